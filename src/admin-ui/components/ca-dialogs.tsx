/**
 * Making built-in CAs from the Web RA (admins): "New CA" (key in a file or a PKCS#11 token; certificate
 * self-signed, signed by a configured built-in CA, or a CSR for an external CA), and the upload of
 * the certificate signed for such a CSR.
 */
import { useId, useState } from 'preact/hooks';
import { ApiError, api, describeError } from '../api';
import { useSubmit } from '../hooks';
import { splitPemCertificates } from '../pem';
import { announce } from '../status';
import type { CaConnector, FieldError, PendingCa } from '../types';
import { CopyButton } from './copy-button';
import { Dialog, DialogActions, DoneActions } from './dialog';
import { FormErrors, NumberField, SelectField, TextAreaField, TextField, type SubmitEvent } from './fields';

const KEY_ALGORITHMS = [
  { value: 'ec-p256', label: 'ECDSA P-256' },
  { value: 'ec-p384', label: 'ECDSA P-384' },
  { value: 'rsa-2048', label: 'RSA 2048' },
  { value: 'rsa-3072', label: 'RSA 3072' },
  { value: 'rsa-4096', label: 'RSA 4096' },
] as const;
type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number]['value'];
type IssuerKind = 'parent' | 'selfSigned' | 'csr';
type PinSource = 'file' | 'env';

function fieldErrorsOf(e: unknown): FieldError[] {
  if (e instanceof ApiError && e.fieldErrors.length) return e.fieldErrors;
  return [{ field: '', message: describeError(e) }];
}

export const csrDownloadPath = (id: string): string => `/api/cas/pending/${encodeURIComponent(id)}/csr.pem`;

/** The CSR to hand to the external CA: download and copy. */
export function CsrBox({ pending }: { pending: PendingCa }) {
  if (!pending.csrPem) return <p class="hint">The CSR was written outside the data directory by "estuary ca create --csr".</p>;
  return (
    <div class="csr-box" data-testid={`ca-csr-${pending.id}`}>
      <pre class="mono csr-pem">{pending.csrPem}</pre>
      <div class="form-actions">
        <a class="button secondary" href={csrDownloadPath(pending.id)} download={`${pending.id}.csr.pem`} data-testid={`ca-csr-download-${pending.id}`}>
          Download CSR
        </a>
        <CopyButton value={pending.csrPem} what="CSR" testId={`ca-csr-copy-${pending.id}`} />
      </div>
    </div>
  );
}

export function NewCaDialog({ cas, onClose, onChanged }: { cas: CaConnector[]; onClose: () => void; onChanged: () => void }) {
  const parents = cas.filter((c) => c.type === 'local');
  const [id, setId] = useState('');
  const [subject, setSubject] = useState('');
  const [keyAlgorithm, setKeyAlgorithm] = useState<KeyAlgorithm>('ec-p256');
  const [issuer, setIssuer] = useState<IssuerKind>(parents.length ? 'parent' : 'selfSigned');
  const [parent, setParent] = useState(parents[0]?.id ?? '');
  const [validityYears, setValidityYears] = useState(10);
  const [inToken, setInToken] = useState(false);
  const [uri, setUri] = useState('');
  const [module, setModule] = useState('');
  const [pinSource, setPinSource] = useState<PinSource>('file');
  const [pin, setPin] = useState('');
  const { busy, error: errors, run } = useSubmit<FieldError[]>([], fieldErrorsOf);
  const [pending, setPending] = useState<PendingCa>();
  const issuerName = useId();

  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    await run(async () => {
      const body = {
        id: id.trim(), subject: subject.trim(), keyAlgorithm, validityYears,
        issuer: issuer === 'parent' ? { parent } : issuer === 'selfSigned' ? { selfSigned: true } : { csr: true },
        ...(inToken ? { pkcs11: { uri: uri.trim(), module: module.trim(), ...(pinSource === 'file' ? { pinFile: pin.trim() } : { pinEnv: pin.trim() }) } } : {}),
      };
      const created = await api.post<CaConnector | PendingCa>('/api/cas', body);
      onChanged();
      if ('csrPem' in created) {
        announce(`CA ${created.id} made; its CSR waits for an external CA`);
        setPending(created);
      } else {
        announce(`CA ${created.id} created and in service`);
        onClose();
      }
    });
  };

  if (pending) {
    return (
      <Dialog title={`CSR of ${pending.id}`} onClose={onClose} testId="new-ca-dialog">
        <p>Have this CSR signed by the external CA, then upload the certificate from the CA connectors screen.</p>
        <CsrBox pending={pending} />
        <DoneActions onDone={onClose} />
      </Dialog>
    );
  }
  // errors of a field not on the form now are listed at the top
  const shownFields = [
    'id', 'subject', 'keyAlgorithm', ...(issuer === 'parent' ? ['issuer.parent'] : []), ...(issuer !== 'csr' ? ['validityYears'] : []),
    ...(inToken ? ['pkcs11.uri', 'pkcs11.module', pinSource === 'file' ? 'pkcs11.pinFile' : 'pkcs11.pinEnv'] : []),
  ];
  const issuers: Array<[IssuerKind, string]> = [
    ...(parents.length ? [['parent', 'Signed by a built-in CA of this server'] as [IssuerKind, string]] : []),
    ['selfSigned', 'Self-signed (a new root)'],
    ['csr', 'A CSR for an external or offline CA'],
  ];
  return (
    <Dialog title="New CA" onClose={onClose} testId="new-ca-dialog">
      <form onSubmit={submit} data-testid="new-ca-form" noValidate>
        <FormErrors errors={errors} known={shownFields} />
        <TextField label="Id" name="id" value={id} onInput={setId} errors={errors} required spellcheck={false} hint="The connector id (cas.<id> in estuary.yaml): letters, digits, - and _." />
        <TextField label="Subject" name="subject" value={subject} onInput={setSubject} errors={errors} required spellcheck={false} placeholder="CN=Devices CA, O=Example" />
        <SelectField<KeyAlgorithm> label="Key algorithm" name="keyAlgorithm" value={keyAlgorithm} onChange={setKeyAlgorithm} errors={errors} options={KEY_ALGORITHMS} />
        <fieldset class="field group" data-testid="field-issuer">
          <legend>Certificate</legend>
          <div class="choices stacked">
            {issuers.map(([value, label]) => (
              <label class="choice" key={value}>
                <input type="radio" name={issuerName} value={value} checked={issuer === value} onChange={() => setIssuer(value)} data-testid={`ca-issuer-${value}`} />
                <span>{label}</span>
              </label>
            ))}
          </div>
        </fieldset>
        {issuer === 'parent' ? (
          <SelectField label="Signing CA" name="issuer.parent" value={parent} onChange={setParent} errors={errors} options={parents.map((p) => ({ value: p.id, label: p.subject ? `${p.id} (${p.subject})` : p.id }))} />
        ) : null}
        {issuer !== 'csr' ? <NumberField label="Validity" name="validityYears" value={validityYears} onInput={setValidityYears} min={1} max={50} unit="years" errors={errors} /> : null}
        <div class="field checkbox" data-testid="field-pkcs11">
          <input id={`${issuerName}-token`} type="checkbox" checked={inToken} onChange={(e) => setInToken(e.currentTarget.checked)} />
          <label for={`${issuerName}-token`}>Make the key in a PKCS#11 token (HSM)</label>
        </div>
        {inToken ? (
          <>
            <TextField label="Key URI" name="pkcs11.uri" value={uri} onInput={setUri} errors={errors} required spellcheck={false} placeholder="pkcs11:token=ca;object=devices;type=private" hint="RFC 7512; the token must not hold a key with this label or id yet." />
            <TextField label="PKCS#11 module" name="pkcs11.module" value={module} onInput={setModule} errors={errors} required spellcheck={false} placeholder="/usr/lib/softhsm/libsofthsm2.so" />
            <SelectField<PinSource> label="Token PIN from" name="pinSource" value={pinSource} onChange={setPinSource} options={[{ value: 'file', label: 'a file under the data directory' }, { value: 'env', label: 'an environment variable of the server' }]} />
            <TextField label={pinSource === 'file' ? 'PIN file' : 'PIN variable'} name={pinSource === 'file' ? 'pkcs11.pinFile' : 'pkcs11.pinEnv'} value={pin} onInput={setPin} errors={errors} required spellcheck={false} placeholder={pinSource === 'file' ? 'token.pin' : 'ESTUARY_TOKEN_PIN'} />
          </>
        ) : (
          <p class="hint">The key is written to ca/&lt;id&gt;-key.pem in the data directory.</p>
        )}
        <DialogActions testId="new-ca-create" busy={busy} onCancel={onClose}>
          {busy ? 'Creating…' : 'Create CA'}
        </DialogActions>
      </form>
    </Dialog>
  );
}

export function ImportCertificateDialog({ pending, onClose, onChanged }: { pending: PendingCa; onClose: () => void; onChanged: () => void }) {
  const [certificate, setCertificate] = useState('');
  const [chain, setChain] = useState('');
  const { busy, error: errors, run } = useSubmit<FieldError[]>([], fieldErrorsOf);
  const fileId = useId();

  const onFile = async (input: HTMLInputElement) => {
    const file = input.files?.[0];
    if (file) setCertificate(await file.text());
  };
  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    await run(async () => {
      await api.post(`/api/cas/${encodeURIComponent(pending.id)}/certificate`, { certificate, chain: splitPemCertificates(chain) });
      announce(`CA ${pending.id} imported and in service`);
      onChanged();
      onClose();
    });
  };
  return (
    <Dialog title={`Certificate of ${pending.id}`} onClose={onClose} testId="import-ca-dialog">
      <form onSubmit={submit} data-testid="import-ca-form" noValidate>
        <FormErrors errors={errors} known={['certificate', 'chain']} />
        <p>
          The CA certificate the external CA signed for <strong>{pending.subject}</strong>.
        </p>
        <div class="field">
          <label for={fileId}>Upload PEM file</label>
          <input id={fileId} type="file" accept=".pem,.crt,.cer,application/x-pem-file" data-testid="import-ca-file" onChange={(e) => void onFile(e.currentTarget)} />
        </div>
        <TextAreaField label="Certificate (PEM)" name="certificate" value={certificate} onInput={setCertificate} errors={errors} rows={6} monospace required placeholder="-----BEGIN CERTIFICATE-----" />
        <TextAreaField label="Its issuers up to the root (PEM, optional)" name="chain" value={chain} onInput={setChain} errors={errors} rows={4} monospace placeholder="-----BEGIN CERTIFICATE-----" />
        <DialogActions testId="import-ca-save" busy={busy} onCancel={onClose}>
          {busy ? 'Importing…' : 'Import certificate'}
        </DialogActions>
      </form>
    </Dialog>
  );
}
