/**
 * One certificate: decoded fields, PEM and chain download, its history (renews, renewed by, who
 * approved and who revoked it), revocation with an RFC 5280 reason, and release of a hold.
 */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { api, describeError } from '../api';
import { Badge } from '../components/badge';
import { CopyButton } from '../components/copy-button';
import { Dialog, DialogActions } from '../components/dialog';
import { SelectField, type SubmitEvent } from '../components/fields';
import { DataTable } from '../components/list-screen';
import { LoadError, Loading, PageHeader } from '../components/page';
import { formatDateTime } from '../format';
import { can, useLoad, useSubmit } from '../hooks';
import { useSession } from '../session';
import { announce } from '../status';
import { lastCertificatesList } from './certificates';
import type { CertificateDetail } from '../types';

/** RFC 5280 §5.3.1 reason codes, as `estuary cert revoke` names them. */
const REASONS = [
  { value: 'unspecified', label: 'Unspecified' },
  { value: 'keyCompromise', label: 'Key compromise' },
  { value: 'cACompromise', label: 'CA compromise' },
  { value: 'affiliationChanged', label: 'Affiliation changed' },
  { value: 'superseded', label: 'Superseded' },
  { value: 'cessationOfOperation', label: 'Cessation of operation' },
  { value: 'certificateHold', label: 'Certificate hold' },
  { value: 'privilegeWithdrawn', label: 'Privilege withdrawn' },
  { value: 'aACompromise', label: 'AA compromise' },
] as const;

function humanize(key: string): string {
  const s = key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/[_-]+/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** The server's decoded fields, whatever their nesting. */
function Value({ value }: { value: unknown }): ComponentChildren {
  if (value === null || value === undefined || value === '') return <span class="muted">—</span>;
  if (Array.isArray(value)) {
    if (value.length === 0) return <span class="muted">none</span>;
    return (
      <ul class="plain-list">
        {value.map((v, i) => (
          <li key={i}>
            <Value value={v} />
          </li>
        ))}
      </ul>
    );
  }
  if (typeof value === 'object') {
    return (
      <dl class="facts nested">
        {Object.entries(value as Record<string, unknown>).map(([k, v]) => (
          <Fact key={k} label={humanize(k)}>
            <Value value={v} />
          </Fact>
        ))}
      </dl>
    );
  }
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  const s = String(value);
  return /^[0-9A-F]{2}(:[0-9A-F]{2}){7,}$/i.test(s) || /^[0-9a-f]{32,}$/i.test(s) ? <code class="fingerprint">{s}</code> : s;
}

function Fact({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </>
  );
}

const SHOWN = new Set(['issuer', 'key', 'keyUsage', 'extendedKeyUsage', 'fingerprintSha256', 'fingerprintSha1', 'extensions', 'subject', 'notBefore', 'notAfter', 'subjectAltName', 'serialNumber']);

function DecodedFields({ fields }: { fields: CertificateDetail['fields'] }) {
  const rest = Object.entries(fields).filter(([k]) => !SHOWN.has(k));
  return (
    <>
      <dl class="facts" data-testid="certificate-fields">
        <Fact label="Issuer">{fields.issuer ?? '—'}</Fact>
        <Fact label="Public key">{fields.key ?? '—'}</Fact>
        <Fact label="Key usage">{fields.keyUsage?.length ? fields.keyUsage.join(', ') : <span class="muted">none</span>}</Fact>
        <Fact label="Extended key usage">{fields.extendedKeyUsage?.length ? fields.extendedKeyUsage.join(', ') : <span class="muted">none</span>}</Fact>
        <Fact label="SHA-256 fingerprint">
          <code class="fingerprint">{fields.fingerprintSha256 ?? '—'}</code>
        </Fact>
        <Fact label="SHA-1 fingerprint">
          <code class="fingerprint">{fields.fingerprintSha1 ?? '—'}</code>
        </Fact>
        {rest.map(([k, v]) => (
          <Fact key={k} label={humanize(k)}>
            <Value value={v} />
          </Fact>
        ))}
      </dl>
      {fields.extensions?.length ? (
        <div class="table-wrap bordered">
          <DataTable columns={['Extension', 'OID', 'Critical']} caption="Extensions">
            {fields.extensions.map((x) => (
              <tr key={x.oid}>
                <th scope="row">{x.name === x.oid ? <span class="muted">unnamed</span> : humanize(x.name)}</th>
                <td>
                  <code>{x.oid}</code>
                </td>
                <td>{x.critical ? 'critical' : 'no'}</td>
              </tr>
            ))}
          </DataTable>
        </div>
      ) : null}
    </>
  );
}

export function CertificateDetailScreen({ serial }: { serial: string }) {
  const session = useSession();
  const { data, error, loading, reload } = useLoad(() => api.get<CertificateDetail>(`/api/certificates/${encodeURIComponent(serial)}`), serial);
  const [revoking, setRevoking] = useState(false);
  const [releasing, setReleasing] = useState(false);
  const base = `/api/certificates/${encodeURIComponent(serial)}`;
  return (
    <>
      <PageHeader title={data ? data.subject || `Certificate ${serial}` : `Certificate ${serial}`}>
        <a href={lastCertificatesList()} class="button secondary">
          Back to certificates
        </a>
      </PageHeader>
      <LoadError error={error} onRetry={reload} />
      <Loading show={loading && !data} />
      {data ? (
        <>
          <section class="card" aria-labelledby="cert-summary" data-testid="certificate-detail">
            <div class="card-head">
              <h2 id="cert-summary">Summary</h2>
              <div class="card-actions">
                <a class="button secondary" href={`${base}/pem`} download={`${serial}.pem`} data-testid="download-pem">
                  Download PEM
                </a>
                <a class="button secondary" href={`${base}/chain.pem`} download={`${serial}-chain.pem`} data-testid="download-chain">
                  Download chain
                </a>
                {can(session.role, 'certificates.revoke') && data.status === 'valid' ? (
                  <button type="button" class="primary danger" onClick={() => setRevoking(true)} data-testid="revoke">
                    Revoke…
                  </button>
                ) : null}
                {can(session.role, 'certificates.revoke') && data.status === 'revoked' && data.revocationReason === 'certificateHold' ? (
                  <button type="button" class="primary" onClick={() => setReleasing(true)} data-testid="release-hold">
                    Release hold…
                  </button>
                ) : null}
              </div>
            </div>
            <dl class="facts">
              <Fact label="Status">
                <span data-testid="certificate-status">
                  <Badge status={data.status} />
                </span>
                {data.revokedAt ? ` on ${formatDateTime(data.revokedAt)}${data.revocationReason ? ` (${data.revocationReason})` : ''}` : null}
                {data.status === 'revoked' && data.revocationReason === 'certificateHold' ? <span class="muted"> — on hold: it can be released</span> : null}
                {data.status === 'revoked' && data.revocationNotice ? (
                  <p class="notice info" data-testid="revocation-notice">
                    Revocation {data.revocationNotice}.
                  </p>
                ) : null}
              </Fact>
              <Fact label="Subject">{data.subject || '(empty)'}</Fact>
              <Fact label="Subject alternative names">
                <Value value={data.sans} />
              </Fact>
              <Fact label="Serial number">
                <code class="serial">{data.serial}</code>
              </Fact>
              <Fact label="Valid from">{formatDateTime(data.notBefore)}</Fact>
              <Fact label="Valid until">{formatDateTime(data.notAfter)}</Fact>
              <Fact label="Profile">
                <a href={`/profiles/${encodeURIComponent(data.profile)}`}>{data.profile}</a>
              </Fact>
              <Fact label="CA connector">
                <a href="/cas">{data.ca}</a>
                {data.caPublishesCrl ? null : <span class="muted"> (no CRL published by this server)</span>}
              </Fact>
              <Fact label="Issued">{formatDateTime(data.createdAt)}</Fact>
              <Fact label="Requested by">{data.requester}</Fact>
              <Fact label="Approved by">
                <span data-testid="certificate-approval">
                  {data.approval ? (
                    <>
                      {data.approval.approvedBy.join(', ') || 'unknown'}
                      {data.approval.approvedAt ? ` on ${formatDateTime(data.approval.approvedAt)}` : ''} <span class="muted">(held request #{data.approval.requestId})</span>
                    </>
                  ) : (
                    <span class="muted">issued without approval</span>
                  )}
                </span>
              </Fact>
              {data.status === 'revoked' ? (
                <Fact label="Revoked by">
                  <span data-testid="certificate-revoked-by">
                    {data.revokedBy ?? (data.revocationReason === 'superseded' && data.renewedBy ? 'superseded on renewal' : <span class="muted">not recorded</span>)}
                  </span>
                </Fact>
              ) : null}
              {data.renews ? (
                <Fact label="Renews">
                  <SerialLink serial={data.renews} />
                </Fact>
              ) : null}
              {data.renewedBy ? (
                <Fact label="Renewed by">
                  <span data-testid="certificate-renewed-by">
                    <SerialLink serial={data.renewedBy} />
                  </span>
                </Fact>
              ) : null}
            </dl>
          </section>
          {data.fields && Object.keys(data.fields).length ? (
            <section class="card" aria-labelledby="cert-fields">
              <h2 id="cert-fields">Decoded fields</h2>
              <DecodedFields fields={data.fields} />
            </section>
          ) : null}
          <section class="card" aria-labelledby="cert-pem">
            <div class="card-head">
              <h2 id="cert-pem">PEM</h2>
              <CopyButton value={data.pem} what="PEM certificate" label="Copy PEM" />
            </div>
            <pre class="pem" tabIndex={0} aria-label="PEM certificate" data-testid="certificate-pem">
              {data.pem}
            </pre>
          </section>
          {releasing ? (
            <ReleaseDialog
              cert={data}
              onClose={() => setReleasing(false)}
              onDone={() => {
                setReleasing(false);
                reload();
              }}
            />
          ) : null}
          {revoking ? (
            <RevokeDialog
              cert={data}
              onClose={() => setRevoking(false)}
              onDone={() => {
                setRevoking(false);
                reload();
              }}
            />
          ) : null}
        </>
      ) : null}
    </>
  );
}

function RevokeDialog(props: { cert: CertificateDetail; onClose: () => void; onDone: () => void }) {
  const [reason, setReason] = useState<string>('unspecified');
  const { busy, error, run } = useSubmit<string | undefined>(undefined, describeError);
  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    await run(async () => {
      const revoked = await api.post<CertificateDetail>(`/api/certificates/${encodeURIComponent(props.cert.serial)}/revoke`, { reason });
      announce(`Certificate ${props.cert.serial} revoked (${reason}); ${revoked.revocationNotice ?? 'the next CRL lists it'}`);
      props.onDone();
    });
  };
  return (
    <Dialog title="Revoke certificate" onClose={props.onClose} testId="revoke-dialog">
      <form onSubmit={submit} noValidate>
        <p>
          Revoke <strong>{props.cert.subject || props.cert.serial}</strong> (serial <code class="serial">{props.cert.serial}</code>)?{' '}
          {reason === 'certificateHold' ? 'A hold can be released later: the certificate is then valid again.' : 'This cannot be undone.'}
        </p>
        {props.cert.revocationNotice ? (
          <p class="notice info" data-testid="revoke-upstream-note">
            Revocation {props.cert.revocationNotice}.
          </p>
        ) : null}
        <SelectField
          label="Reason"
          name="reason"
          value={reason}
          onChange={setReason}
          options={REASONS}
          errors={error ? [{ field: 'reason', message: error }] : []}
          hint={props.cert.caPublishesCrl ? 'RFC 5280 §5.3.1 reason code, published in the CRL.' : 'RFC 5280 §5.3.1 reason code, recorded here.'}
        />
        <DialogActions testId="revoke-confirm" busy={busy} onCancel={props.onClose} class="primary danger">
          Revoke certificate
        </DialogActions>
      </form>
    </Dialog>
  );
}

function SerialLink({ serial }: { serial: string }) {
  return (
    <a href={`/certificates/${encodeURIComponent(serial)}`}>
      <code class="serial">{serial}</code>
    </a>
  );
}

/** RFC 5280 §5.3.1: a certificateHold is the one revocation that can be undone. */
function ReleaseDialog(props: { cert: CertificateDetail; onClose: () => void; onDone: () => void }) {
  const { busy, error, run } = useSubmit<string | undefined>(undefined, describeError);
  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    await run(async () => {
      await api.post<CertificateDetail>(`/api/certificates/${encodeURIComponent(props.cert.serial)}/release`, {});
      announce(`Certificate ${props.cert.serial} released from hold: valid again${props.cert.caPublishesCrl ? ', and off the next CRL' : ''}`);
      props.onDone();
    });
  };
  return (
    <Dialog title="Release hold" onClose={props.onClose} testId="release-dialog">
      <form onSubmit={submit} noValidate>
        <p>
          Release <strong>{props.cert.subject || props.cert.serial}</strong> (serial <code class="serial">{props.cert.serial}</code>) from hold? It becomes valid again: it can
          authenticate and renew, {props.cert.caPublishesCrl ? 'and the next CRL no longer lists it.' : 'here (its upstream CA keeps its own CRL).'}
        </p>
        {error ? (
          <p class="notice error" role="alert">
            {error}
          </p>
        ) : null}
        <DialogActions testId="release-confirm" busy={busy} onCancel={props.onClose} class="primary">
          Release hold
        </DialogActions>
      </form>
    </Dialog>
  );
}
