/** Create or edit a certification profile; the server validates the whole profile and saves all or nothing. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api, describeError } from '../api';
import { CopyButton } from '../components/copy-button';
import { CheckboxField, FormErrors, SelectField, TextField, type SubmitEvent } from '../components/fields';
import { IssuancePolicy } from '../components/issuance-policy';
import { ListField } from '../components/list-field';
import { ClientBindingField } from '../components/client-binding';
import { NameRules } from '../components/name-rules';
import { LoadError, Loading, PageHeader } from '../components/page';
import { TrustAnchors } from '../components/trust-anchors';
import { can, useLoad } from '../hooks';
import { MECHANISMS, needsTrustAnchors } from '../profile-labels';
import { navigate } from '../router';
import { useSession } from '../session';
import { defaultProfile } from '../../ra/default-profile';
import { formatValidity } from '../../ra/validity';
import { announce } from '../status';
import type { CaConnector, FieldError, Profile, ProfileInput } from '../types';

/** The fields this form shows; other server errors are listed at the top. */
const KNOWN_FIELDS = [
  'label', 'enabled', 'ca', 'auth', 'clientTrustAnchors', 'validity', 'validityDays', 'keyAlgorithms', 'keyUsage', 'extendedKeyUsage',
  'approval', 'approvals', 'retryAfterSeconds', 'pendingTtlHours', 'popLinking', 'namePolicy', 'csrAttrs', 'renewal',
];

/** A new profile starts from the defaults `estuary profile add` and the API use. */
function newProfile(ca: string): ProfileInput {
  const p = defaultProfile('', ca);
  return { ...p, validity: formatValidity(p.validitySeconds) };
}

/** Exactly the writable fields (the API rejects the read-only ones); the validity as text. */
function toInput(p: ProfileInput): Omit<ProfileInput, 'validitySeconds'> {
  return {
    label: p.label.trim(),
    enabled: p.enabled,
    ca: p.ca,
    auth: p.auth,
    clientTrustAnchors: p.clientTrustAnchors,
    validity: (p.validity ?? formatValidity(p.validitySeconds)).trim(),
    keyAlgorithms: p.keyAlgorithms,
    keyUsage: p.keyUsage,
    extendedKeyUsage: p.extendedKeyUsage,
    allowedAccounts: p.allowedAccounts,
    csrAttrs: p.csrAttrs,
    approval: p.approval,
    approvals: p.approvals,
    retryAfterSeconds: p.retryAfterSeconds,
    pendingTtlHours: p.pendingTtlHours,
    popLinking: p.popLinking,
    namePolicy: p.namePolicy,
    renewal: p.renewal,
    deviceRevocation: p.deviceRevocation,
  };
}

interface Loaded {
  profile: Profile | undefined;
  cas: CaConnector[];
}

export function ProfileEditScreen({ label }: { label: string | undefined }) {
  const { data, error, loading, reload } = useLoad<Loaded>(async () => {
    const [profile, cas] = await Promise.all([
      label === undefined ? Promise.resolve(undefined) : api.get<Profile>(`/api/profiles/${encodeURIComponent(label)}`),
      api.get<{ items: CaConnector[] }>('/api/cas'),
    ]);
    return { profile, cas: cas.items };
  }, label ?? '');
  const title = label === undefined ? 'New certification profile' : `Profile ${label}`;
  return (
    <>
      <PageHeader title={title}>
        <a href="/profiles" class="button secondary">
          Back to profiles
        </a>
      </PageHeader>
      <LoadError error={error} onRetry={reload} />
      <Loading show={loading && !data} />
      {data ? <ProfileForm key={data.profile?.updatedAt ?? 'new'} loaded={data} isNew={label === undefined} /> : null}
    </>
  );
}

function ProfileForm({ loaded, isNew }: { loaded: Loaded; isNew: boolean }) {
  const session = useSession();
  const retired = loaded.profile?.retiredAt;
  const readOnly = !can(session.role, 'profiles.write') || Boolean(retired);
  const [saved, setSaved] = useState<Profile | undefined>(loaded.profile);
  const [value, setValue] = useState<ProfileInput>(() => loaded.profile ?? newProfile(loaded.cas[0]?.id ?? ''));
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);
  const focusFirstError = useRef(false);
  const set = <K extends keyof ProfileInput>(key: K, v: ProfileInput[K]) => {
    setValue((p) => ({ ...p, [key]: v }));
    // an edited field's old server errors no longer apply
    setErrors((errs) => (errs.some((e) => e.field === key || e.field.startsWith(`${key}.`)) ? errs.filter((e) => e.field !== key && !e.field.startsWith(`${key}.`)) : errs));
  };

  useEffect(() => {
    // after a refused save, take the keyboard to the first field the server named
    if (!focusFirstError.current) return;
    focusFirstError.current = false;
    formRef.current?.querySelector<HTMLElement>('input[aria-invalid="true"], select[aria-invalid="true"], textarea[aria-invalid="true"], fieldset[aria-invalid="true"] input')?.focus();
  }, [errors]);

  const caOptions = loaded.cas.map((c) => ({ value: c.id, label: `${c.id} — ${c.typeLabel}${c.subject ? ` (${c.subject})` : ''}` }));
  const chosenCa = loaded.cas.find((c) => c.id === value.ca);
  // an upstream CA decides key usage, EKU and validity itself (the est connector forwards the CSR unchanged)
  const caDecides = chosenCa && !chosenCa.profileSetsCertificateContent ? chosenCa : undefined;
  if (value.ca && !caOptions.some((o) => o.value === value.ca)) caOptions.push({ value: value.ca, label: `${value.ca} (not configured)` });
  if (!value.ca) caOptions.unshift({ value: '', label: 'Choose a CA connector' });

  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    if (readOnly) return;
    setBusy(true);
    setErrors([]);
    const body = toInput(value);
    try {
      if (isNew) {
        const created = await api.post<Profile>('/api/profiles', body);
        announce(`Profile ${created.label} created`);
        navigate(`/profiles/${encodeURIComponent(created.label)}`, { replace: true });
      } else {
        const updated = await api.put<Profile>(`/api/profiles/${encodeURIComponent(value.label)}`, body);
        setSaved(updated);
        setValue(updated);
        announce(`Profile ${updated.label} saved; EST uses it from now on`);
      }
    } catch (err) {
      if (err instanceof ApiError && err.fieldErrors.length) {
        focusFirstError.current = true;
        setErrors(err.fieldErrors);
        announce(`The profile was not saved: ${err.fieldErrors.length === 1 ? 'one field needs' : `${err.fieldErrors.length} fields need`} attention`, 'error');
      } else if (err instanceof ApiError && err.status === 409) {
        setErrors([{ field: 'label', message: err.detail ?? 'A profile with this label exists already' }]);
        announce('The profile was not saved: the label is taken', 'error');
      } else announce(`The profile was not saved: ${describeError(err)}`, 'error');
    } finally {
      setBusy(false);
    }
  };

  return (
    <form ref={formRef} class="profile-form" onSubmit={submit} noValidate data-testid="profile-form" aria-label={isNew ? 'New profile' : `Profile ${value.label}`}>
      <FormErrors errors={errors} known={KNOWN_FIELDS} />
      {retired ? (
        <p class="notice info" data-testid="profile-retired">
          Retired {new Date(retired).toLocaleString()}: this profile no longer enrols and cannot be changed; its certificates stay valid and revocable. Clone it from the profile list to issue under new settings.
        </p>
      ) : readOnly ? <p class="notice info">Your role may view profiles but not change them.</p> : null}
      <section class="card" aria-labelledby="sec-est">
        <h2 id="sec-est">Enrolment over Secure Transport</h2>
        <fieldset disabled={readOnly} class="plain">
          <TextField
            label="Label"
            name="label"
            value={value.label}
            onInput={(v) => set('label', v)}
            readOnly={!isNew}
            required
            spellcheck={false}
            errors={errors}
            hint={isNew ? 'The EST path segment: /.well-known/est/<label>/… Letters, digits, "-", "_" and ".".' : 'The label is fixed once the profile exists.'}
          />
          <CheckboxField label="Enable Enrolment over Secure Transport (EST)" name="enabled" checked={value.enabled} onChange={(v) => set('enabled', v)} errors={errors} />
          <SelectField
            label="CA connector"
            name="ca"
            value={value.ca}
            onChange={(v) => set('ca', v)}
            options={caOptions}
            errors={errors}
            required
            hint="The CA backend that signs this profile's certificates."
          />
          {caDecides ? <UpstreamNote ca={caDecides} /> : null}
          <SelectField
            label="EST authentication mechanism"
            name="auth"
            value={value.auth}
            onChange={(v) => set('auth', v)}
            options={MECHANISMS.map((m) => ({ value: m.value, label: `${m.label} — ${m.explanation}` }))}
            errors={errors}
          />
        </fieldset>
        <EstUrl profile={saved} />
      </section>
      <section class="card" aria-labelledby="sec-anchors">
        <h2 id="sec-anchors">Device CA trust anchors</h2>
        <TrustAnchors value={value.clientTrustAnchors} onChange={(v) => set('clientTrustAnchors', v)} errors={errors} disabled={readOnly} required={needsTrustAnchors(value.auth)} />
        <fieldset disabled={readOnly} class="plain">
          <SelectField
            label="When a device certificate's CRL cannot be had"
            name="deviceRevocation.whenUnavailable"
            value={value.deviceRevocation.whenUnavailable}
            onChange={(v) => set('deviceRevocation', { ...value.deviceRevocation, whenUnavailable: v === 'allow' ? 'allow' : 'refuse' })}
            options={[
              { value: 'refuse', label: 'Refuse the certificate (401)' },
              { value: 'allow', label: 'Allow the certificate' },
            ]}
            errors={errors}
            hint={`Device certificates are checked against their CA's CRL (distribution point or per-anchor URL); either choice is written to the audit log.${Object.keys(value.deviceRevocation.crlUrls).length ? ` Per-anchor CRL URLs: ${Object.values(value.deviceRevocation.crlUrls).join(', ')}.` : ''}`}
          />
        </fieldset>
      </section>
      <section class="card" aria-labelledby="sec-policy">
        <h2 id="sec-policy">Issuance policy</h2>
        <fieldset disabled={readOnly} class="plain">
          <IssuancePolicy value={value} set={set} errors={errors} decidedBy={caDecides ? `${caDecides.id} (${caDecides.typeLabel})` : undefined} />
        </fieldset>
        {saved?.popLinkingNote ? (
          <p class="notice warning" role="note" data-testid="pop-linking-proxy-note">
            Proof-of-possession linking: {saved.popLinkingNote}.
          </p>
        ) : null}
      </section>
      <section class="card" aria-labelledby="sec-names">
        <h2 id="sec-names">Name rules</h2>
        <fieldset disabled={readOnly} class="plain">
          <NameRules value={value.namePolicy} onChange={(v) => set('namePolicy', v)} errors={errors} />
          {value.auth !== 'basic' ? (
            <ClientBindingField value={value.namePolicy.clientBinding} onChange={(v) => set('namePolicy', { ...value.namePolicy, clientBinding: v })} errors={errors} />
          ) : null}
        </fieldset>
      </section>
      <section class="card" aria-labelledby="sec-more">
        <h2 id="sec-more">More</h2>
        <fieldset disabled={readOnly} class="plain">
          <ListField
            label="CSR attributes"
            name="csrAttrs"
            hint="Attribute OIDs (names or dotted) that /csrattrs asks clients for; empty: 204 No Content."
            value={value.csrAttrs}
            onChange={(v) => set('csrAttrs', v)}
            errors={errors}
            rows={2}
          />
        </fieldset>
        <p class="hint">
          {value.allowedAccounts.length
            ? `Only these EST accounts may use this profile: ${value.allowedAccounts.join(', ')}.`
            : 'Every EST account may use this profile.'}{' '}
          Restrict accounts on the <a href="/accounts">accounts</a> screen.
        </p>
      </section>
      {!readOnly ? (
        <div class="form-actions form-footer">
          <button type="submit" class="primary" disabled={busy} data-testid="profile-save">
            {busy ? 'Saving…' : isNew ? 'Create profile' : 'Save changes'}
          </button>
          <a href="/profiles" class="button secondary">
            Cancel
          </a>
        </div>
      ) : null}
    </form>
  );
}

function UpstreamNote({ ca }: { ca: CaConnector }) {
  return (
    <p class="notice info" data-testid="upstream-ca-note">
      {ca.id} ({ca.typeLabel}) is sent the CSR unchanged: key usage, extended key usage and validity are decided by the upstream CA, not by this profile. This profile
      still decides who may enrol and which names and keys are admitted.
    </p>
  );
}

function EstUrl({ profile }: { profile: Profile | undefined }) {
  const url = profile?.estUrl ?? '';
  return (
    <div class="field" data-testid="field-estUrl">
      <label for="est-url">EST URL</label>
      <div class="input-with-button">
        <input id="est-url" type="text" readOnly value={url} placeholder="Shown once the profile is saved" aria-describedby="est-url-hint" data-testid="est-url-input" class="mono" />
        <CopyButton value={url} what="EST URL" label="Copy URL" testId="copy-est-url" />
      </div>
      <p class="hint" id="est-url-hint">
        {profile ? 'Clients enrol at this URL (RFC 7030 §3.2.2); /cacerts, /simpleenroll and the other operations live under it.' : 'The EST URL appears here once the profile is saved.'}
      </p>
    </div>
  );
}
