/** The device CA bundle of a profile: upload or paste PEM, list with subject and fingerprint, remove. */
import { useEffect, useId, useState } from 'preact/hooks';
import { errorsFor } from '../api';
import { formatDate, formatFingerprint } from '../format';
import { derToPem, splitPemCertificates, summarizeCertificate, type CertSummary } from '../pem';
import { announce } from '../status';
import type { FieldError } from '../types';
import { FieldMessages } from './fields';
import { DataTable } from './list-screen';

type Row = CertSummary | { pem: string; error: string };

export function TrustAnchors(props: {
  value: string[];
  onChange: (pems: string[]) => void;
  errors: FieldError[];
  disabled: boolean;
  required: boolean;
}) {
  const [rows, setRows] = useState<Row[]>([]);
  const [paste, setPaste] = useState('');
  const [pasteError, setPasteError] = useState<string>();
  const fileId = useId();
  const pasteId = useId();
  const listId = useId();
  const errs = errorsFor(props.errors, 'clientTrustAnchors');

  useEffect(() => {
    let live = true;
    Promise.all(props.value.map((pem) => summarizeCertificate(pem).catch((e: unknown) => ({ pem, error: e instanceof Error ? e.message : String(e) })))).then(
      (r) => live && setRows(r),
    );
    return () => {
      live = false;
    };
  }, [props.value]);

  /** Add the certificates of a PEM text; says what happened. Returns false when nothing was usable. */
  const add = async (text: string, source: string): Promise<boolean> => {
    const pems = splitPemCertificates(text);
    if (pems.length === 0) return false;
    const known = new Set(rows.map((r) => ('fingerprintSha256' in r ? r.fingerprintSha256 : r.pem)));
    const added: string[] = [];
    for (const pem of pems) {
      try {
        const s = await summarizeCertificate(pem);
        if (known.has(s.fingerprintSha256)) continue;
        known.add(s.fingerprintSha256);
        added.push(pem);
      } catch {
        return false;
      }
    }
    props.onChange([...props.value, ...added]);
    const skipped = pems.length - added.length;
    announce(
      `${added.length} certificate${added.length === 1 ? '' : 's'} added from ${source}${skipped ? ` (${skipped} already listed)` : ''}; save the profile to apply`,
      'info',
    );
    return true;
  };

  const onFile = async (input: HTMLInputElement) => {
    const file = input.files?.[0];
    if (!file) return;
    const bytes = new Uint8Array(await file.arrayBuffer());
    const text = new TextDecoder('latin1').decode(bytes);
    const ok = await add(text.includes('-----BEGIN') ? text : derToPem(bytes), file.name);
    if (!ok) announce(`${file.name} holds no readable certificate (PEM or DER expected)`, 'error');
    input.value = '';
  };

  const onPaste = async () => {
    setPasteError(undefined);
    if (await add(paste, 'the pasted text')) setPaste('');
    else setPasteError('Paste one or more PEM certificates (-----BEGIN CERTIFICATE----- …).');
  };

  const remove = (pem: string, subject: string) => {
    props.onChange(props.value.filter((p) => p !== pem));
    announce(`Removed ${subject}; save the profile to apply`, 'info');
  };

  return (
    <div class="trust-anchors" data-testid="field-clientTrustAnchors">
      <p class="hint" id={`${listId}-hint`}>
        TLS client certificates must chain to one of these device CA certificates.
        {props.required ? ' The chosen mechanism needs at least one.' : ' Only used when the mechanism includes TLS client authentication.'}
      </p>
      {rows.length === 0 ? (
        <p class="empty">No trust anchors.</p>
      ) : (
        <div class="table-wrap">
          <DataTable columns={['Subject', 'SHA-256 fingerprint', 'Expires']} actions={!props.disabled} testId="trust-anchor-table" describedBy={`${listId}-hint`}>
            {rows.map((r) => {
              const subject = 'subject' in r ? r.subject : 'Unreadable certificate';
              return (
                <tr key={r.pem} data-testid="trust-anchor-row">
                  <th scope="row">{subject}</th>
                  <td>
                    <code class="fingerprint">{'fingerprintSha256' in r ? formatFingerprint(r.fingerprintSha256) : r.error}</code>
                  </td>
                  <td>{'notAfter' in r ? formatDate(r.notAfter) : '—'}</td>
                  {!props.disabled ? (
                    <td class="actions">
                      <button type="button" class="secondary small danger" onClick={() => remove(r.pem, subject)} aria-label={`Remove trust anchor ${subject}`}>
                        Remove
                      </button>
                    </td>
                  ) : null}
                </tr>
              );
            })}
          </DataTable>
        </div>
      )}
      {errs.length ? <FieldMessages id={listId} errs={errs} /> : null}
      {!props.disabled ? (
        <div class="anchor-add">
          <div class="field">
            <label for={fileId}>Upload PEM file</label>
            <input id={fileId} type="file" accept=".pem,.crt,.cer,.der,application/x-pem-file,application/pkix-cert" data-testid="trust-anchor-file" aria-invalid={errs.length ? 'true' : undefined} aria-describedby={errs.length ? `${listId}-error` : undefined} onChange={(e) => onFile(e.currentTarget)} />
          </div>
          <div class="field">
            <label for={pasteId}>Or paste PEM</label>
            <textarea
              id={pasteId}
              class="mono"
              rows={4}
              value={paste}
              spellcheck={false}
              placeholder="-----BEGIN CERTIFICATE-----"
              data-testid="trust-anchor-paste"
              aria-invalid={pasteError ? 'true' : undefined}
              aria-describedby={pasteError ? `${pasteId}-error` : undefined}
              onInput={(e) => setPaste(e.currentTarget.value)}
            />
            {pasteError ? (
              <p class="field-error" id={`${pasteId}-error`}>
                {pasteError}
              </p>
            ) : null}
            <div>
              <button type="button" class="secondary" disabled={!paste.trim()} onClick={onPaste} data-testid="trust-anchor-add">
                Add pasted certificates
              </button>
            </div>
          </div>
        </div>
      ) : null}
    </div>
  );
}
