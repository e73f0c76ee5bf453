/** The name rules of a profile (its NamePolicy): which subjects and SANs it issues. */
import type { FieldError, NamePolicy, SanType } from '../types';
import { CheckboxField, CheckboxGroup, NumberField } from './fields';
import { ListField, PatternsField } from './list-field';

const SAN_TYPES: ReadonlyArray<{ value: SanType; label: string }> = [
  { value: 'dns', label: 'DNS name' },
  { value: 'ip', label: 'IP address' },
  { value: 'email', label: 'Email address' },
  { value: 'uri', label: 'URI' },
];

export function NameRules(props: { value: NamePolicy; onChange: (value: NamePolicy) => void; errors: FieldError[] }) {
  const { value, errors } = props;
  const set = <K extends keyof NamePolicy>(key: K, v: NamePolicy[K]) => props.onChange({ ...value, [key]: v });
  return (
    <>
      <p class="hint">Every list left empty allows any supported name.</p>
      <div class="field-row">
        <ListField
          label="Subject attributes allowed"
          name="namePolicy.subjectAllowed"
          hint="CN, O, OU, C, L, ST, emailAddress, serialNumber or dotted OIDs; one a line."
          value={value.subjectAllowed}
          onChange={(v) => set('subjectAllowed', v)}
          errors={errors}
        />
        <ListField
          label="Subject attributes required"
          name="namePolicy.subjectRequired"
          hint="Attributes every request must have."
          value={value.subjectRequired}
          onChange={(v) => set('subjectRequired', v)}
          errors={errors}
        />
      </div>
      <PatternsField value={value.subjectPatterns} onChange={(v) => set('subjectPatterns', v)} errors={errors} />
      <div class="field-row">
        <CheckboxGroup
          label="SAN types allowed"
          name="namePolicy.sanTypes"
          options={SAN_TYPES}
          value={value.sanTypes}
          onChange={(v) => set('sanTypes', v)}
          errors={errors}
          hint="None ticked: all four."
        />
        <CheckboxGroup
          label="SAN types required"
          name="namePolicy.sanRequired"
          options={SAN_TYPES}
          value={value.sanRequired}
          onChange={(v) => set('sanRequired', v)}
          errors={errors}
        />
      </div>
      <div class="field-row">
        <ListField
          label="DNS suffixes"
          name="namePolicy.dnsSuffixes"
          hint="DNS names (and a CN that looks like one) must equal or end with one of these."
          placeholder="e.g. .devices.example.com"
          value={value.dnsSuffixes}
          onChange={(v) => set('dnsSuffixes', v)}
          errors={errors}
        />
        <ListField
          label="IP ranges"
          name="namePolicy.ipRanges"
          hint="CIDR ranges that IP SANs must fall in."
          placeholder="e.g. 10.20.0.0/16"
          value={value.ipRanges}
          onChange={(v) => set('ipRanges', v)}
          errors={errors}
        />
      </div>
      <ListField
        label="Forbidden names"
        name="namePolicy.forbiddenNames"
        hint="Regular expressions no CN, DNS, email or URI name may match."
        placeholder="e.g. (^|\.)localhost$"
        value={value.forbiddenNames}
        onChange={(v) => set('forbiddenNames', v)}
        errors={errors}
      />
      <CheckboxField
        label="Issue wildcard certificates (*.example.com)"
        name="namePolicy.allowWildcards"
        checked={value.allowWildcards}
        onChange={(v) => set('allowWildcards', v)}
        errors={errors}
        hint="Off: a wildcard DNS name is refused as SAN or CN, even for an account allowed *.example.com."
      />
      <div class="field-row">
        <NumberField label="Most SANs" name="namePolicy.maxSans" min={1} max={1000} value={value.maxSans} onInput={(v) => set('maxSans', v)} errors={errors} />
        <NumberField label="Most subject RDNs" name="namePolicy.maxRdns" min={1} max={256} value={value.maxRdns} onInput={(v) => set('maxRdns', v)} errors={errors} />
        <NumberField label="Largest subject" name="namePolicy.maxSubjectBytes" unit="bytes" min={64} max={65536} value={value.maxSubjectBytes} onInput={(v) => set('maxSubjectBytes', v)} errors={errors} />
      </div>
    </>
  );
}
