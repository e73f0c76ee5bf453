/** The issuance policy part of the profile form: validity, keys, usages, approval, PoP linking, renewal. */
import { errorsFor } from '../api';
import type { FieldError, KeyAlgorithmRule, ProfileInput } from '../types';
import { CheckboxField, CheckboxGroup, FieldMessages, NumberField, SelectField, TextField } from './fields';
import { formatValidity } from '../../ra/validity';
import { ListField } from './list-field';

type Curve = 'P-256' | 'P-384' | 'P-521';
const CURVES: readonly Curve[] = ['P-256', 'P-384', 'P-521'];
const RSA_SIZES = [2048, 3072, 4096];

const KEY_USAGES = [
  { value: 'digitalSignature', label: 'Digital signature' },
  { value: 'nonRepudiation', label: 'Non-repudiation (content commitment)' },
  { value: 'keyEncipherment', label: 'Key encipherment' },
  { value: 'dataEncipherment', label: 'Data encipherment' },
  { value: 'keyAgreement', label: 'Key agreement' },
  { value: 'keyCertSign', label: 'Certificate signing' },
  { value: 'cRLSign', label: 'CRL signing' },
] as const;

export const KNOWN_EKUS = [
  { value: 'serverAuth', label: 'TLS server authentication' },
  { value: 'clientAuth', label: 'TLS client authentication' },
  { value: 'codeSigning', label: 'Code signing' },
  { value: 'emailProtection', label: 'Email protection' },
  { value: 'timeStamping', label: 'Time stamping' },
  { value: 'ocspSigning', label: 'OCSP signing' },
  { value: 'cmcRA', label: 'CMC registration authority' },
] as const;
const KNOWN_EKU_NAMES: readonly string[] = KNOWN_EKUS.map((e) => e.value);

export interface PolicyProps {
  value: ProfileInput;
  set: <K extends keyof ProfileInput>(key: K, v: ProfileInput[K]) => void;
  errors: FieldError[];
  /** The CA connector that decides validity, key usage and EKU itself (an upstream CA); those fields are then disabled. */
  decidedBy?: string | undefined;
}

function KeyAlgorithms({ value, set, errors }: PolicyProps) {
  const rules = value.keyAlgorithms;
  const ec = rules.find((r): r is Extract<KeyAlgorithmRule, { type: 'ec' }> => r.type === 'ec');
  const rsa = rules.find((r): r is Extract<KeyAlgorithmRule, { type: 'rsa' }> => r.type === 'rsa');
  const ed = rules.some((r) => r.type === 'ed25519');
  const put = (next: { ec?: Curve[] | null; rsa?: number | null; ed?: boolean }) => {
    const out: KeyAlgorithmRule[] = [];
    const curves = next.ec === undefined ? ec?.curves : next.ec;
    if (curves) out.push({ type: 'ec', curves: CURVES.filter((c) => curves.includes(c)) });
    const bits = next.rsa === undefined ? rsa?.minBits : next.rsa;
    // maxBits and minExponent (set from the CLI or API) are kept as they are
    if (bits) out.push({ ...rsa, type: 'rsa', minBits: bits });
    if (next.ed ?? ed) out.push({ type: 'ed25519' });
    set('keyAlgorithms', out);
  };
  const errs = errorsFor(errors, 'keyAlgorithms');
  return (
    <fieldset class="field group" data-testid="field-keyAlgorithms" aria-describedby={errs.length ? 'key-alg-error' : undefined}>
      <legend>Key algorithms</legend>
      <div class="key-alg">
        <label class="choice">
          <input type="checkbox" checked={!!ec} onChange={(e) => put({ ec: e.currentTarget.checked ? ['P-256', 'P-384'] : null })} />
          <span>ECDSA</span>
        </label>
        <div class="sub-choices" role="group" aria-label="ECDSA curves">
          {CURVES.map((c) => (
            <label key={c} class="choice">
              <input
                type="checkbox"
                disabled={!ec}
                checked={!!ec?.curves.includes(c)}
                onChange={(e) => put({ ec: e.currentTarget.checked ? [...(ec?.curves ?? []), c] : (ec?.curves ?? []).filter((x) => x !== c) })}
              />
              <span>{c}</span>
            </label>
          ))}
        </div>
      </div>
      <div class="key-alg">
        <label class="choice">
          <input type="checkbox" checked={!!rsa} onChange={(e) => put({ rsa: e.currentTarget.checked ? 2048 : null })} />
          <span>RSA</span>
        </label>
        <div class="sub-choices">
          <label class="inline-select">
            <span>at least</span>
            <select aria-label="RSA minimum key size" disabled={!rsa} value={String(rsa?.minBits ?? 2048)} onChange={(e) => put({ rsa: Number(e.currentTarget.value) })}>
              {[...new Set([...RSA_SIZES, rsa?.minBits ?? 2048])].sort((a, b) => a - b).map((n) => (
                <option key={n} value={String(n)}>
                  {n} bits
                </option>
              ))}
            </select>
          </label>
          {rsa && (rsa.maxBits !== undefined || rsa.minExponent !== undefined) && (
            <span class="hint">
              {rsa.maxBits !== undefined && `at most ${rsa.maxBits} bits`}
              {rsa.maxBits !== undefined && rsa.minExponent !== undefined && ', '}
              {rsa.minExponent !== undefined && `exponent ≥ ${rsa.minExponent}`}
            </span>
          )}
        </div>
      </div>
      <div class="key-alg">
        <label class="choice">
          <input type="checkbox" checked={ed} onChange={(e) => put({ ed: e.currentTarget.checked })} />
          <span>Ed25519</span>
        </label>
      </div>
      <FieldMessages id="key-alg" errs={errs} />
    </fieldset>
  );
}

export function IssuancePolicy(props: PolicyProps) {
  const { value, set, errors } = props;
  const knownEku = value.extendedKeyUsage.filter((e) => KNOWN_EKU_NAMES.includes(e));
  const otherEku = value.extendedKeyUsage.filter((e) => !KNOWN_EKU_NAMES.includes(e));
  const decided = props.decidedBy !== undefined;
  return (
    <>
      {decided ? (
        <p class="notice info" data-testid="content-decided-by-ca">
          Validity, key usage and extended key usage are decided by the upstream CA {props.decidedBy}; the values below are not applied to its certificates.
        </p>
      ) : null}
      <fieldset class="plain" disabled={decided} data-testid="certificate-content">
        <TextField
          label="Validity"
          name="validity"
          value={value.validity ?? formatValidity(value.validitySeconds)}
          onInput={(v) => set('validity', v)}
          errors={errors}
          required
          spellcheck={false}
          hint="30d, 8h, 90m or 1d12h (1m to 3650d); short-lived certificates renew often, so keep the renewal agent's schedule in mind. Clamped to the CA's own validity."
        />
        <CheckboxGroup label="Key usage" name="keyUsage" options={KEY_USAGES} value={value.keyUsage as never[]} onChange={(v) => set('keyUsage', v)} errors={errors} />
        <CheckboxGroup
          label="Extended key usage"
          name="extendedKeyUsage"
          options={KNOWN_EKUS}
          value={knownEku as never[]}
          onChange={(v) => set('extendedKeyUsage', [...v, ...otherEku])}
          errors={errors}
        />
        <ListField
          label="Other extended key usages"
          name="extendedKeyUsageOther"
          hint="Dotted OIDs, one a line."
          placeholder="e.g. 1.3.6.1.5.5.7.3.17"
          rows={2}
          value={otherEku}
          onChange={(v) => set('extendedKeyUsage', [...knownEku, ...v])}
        />
      </fieldset>
      <KeyAlgorithms {...props} />
      <div class="field-row">
        <SelectField
          label="Approval"
          name="approval"
          value={value.approval}
          onChange={(v) => set('approval', v)}
          errors={errors}
          options={[
            { value: 'auto', label: 'Automatic: issue at once' },
            { value: 'manual', label: 'Manual: hold for an officer' },
          ]}
          hint="Held requests get 202 with Retry-After (RFC 7030 §4.2.3) until approved or rejected."
        />
        <NumberField label="Retry-After" name="retryAfterSeconds" unit="seconds" min={1} value={value.retryAfterSeconds} onInput={(v) => set('retryAfterSeconds', v)} errors={errors} />
        <NumberField label="Held requests expire after" name="pendingTtlHours" unit="hours" min={1} value={value.pendingTtlHours} onInput={(v) => set('pendingTtlHours', v)} errors={errors} />
      </div>
      <SelectField
        label="Approvals needed"
        name="approvals"
        value={value.approvals === 2 ? '2' : '1'}
        onChange={(v) => set('approvals', v === '2' ? 2 : 1)}
        errors={errors}
        options={[
          { value: '1', label: 'One officer' },
          { value: '2', label: 'Two different officers (four-eyes)' },
        ]}
        hint="Under manual approval. With four-eyes the first approval is recorded and the request stays pending until a second officer approves; one rejection is final. Nobody approves their own request."
      />
      <SelectField
        label="Proof-of-possession linking"
        name="popLinking"
        value={value.popLinking}
        onChange={(v) => set('popLinking', v)}
        errors={errors}
        options={[
          { value: 'optional', label: 'Optional: a challengePassword present must be the binding (default)' },
          { value: 'required', label: 'Required: every CSR must carry the binding' },
          { value: 'off', label: 'Off: challengePassword carries something else, never checked' },
        ]}
        hint="RFC 7030 §3.5: the CSR's challengePassword carries the TLS channel binding (tls-unique or tls-exporter); an empty one means not linked."
      />
      <div class="field-row">
        <CheckboxField
          label="Revoke a renewed certificate (superseded) when its successor is issued"
          name="renewal.supersede"
          checked={value.renewal.supersede}
          onChange={(v) => set('renewal', { ...value.renewal, supersede: v })}
          errors={errors}
        />
        <CheckboxField
          label="Renew each certificate only once"
          name="renewal.once"
          checked={value.renewal.once}
          onChange={(v) => set('renewal', { ...value.renewal, once: v })}
          errors={errors}
        />
        <NumberField
          label="Renew only within the last"
          name="renewal.windowPercent"
          unit="% of its life (0: any time)"
          min={0}
          max={100}
          value={value.renewal.windowPercent}
          onInput={(v) => set('renewal', { ...value.renewal, windowPercent: v })}
          errors={errors}
        />
      </div>
    </>
  );
}
