/**
 * One held request in detail: the CSR as sent (decoded by the server; a challengePassword is
 * shown as present, never its value), where it came from (address, authentication, account or
 * client certificate), its age and hold expiry, the four-eyes state, and what overlaps it.
 */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { api } from '../api';
import { Badge } from '../components/badge';
import { DataTable } from '../components/list-screen';
import { LoadError, Loading, PageHeader } from '../components/page';
import { formatAge, formatDateTime } from '../format';
import { can, useLoad } from '../hooks';
import { MECHANISMS } from '../profile-labels';
import { useSession } from '../session';
import type { DecodedCsr, PendingRequestDetail } from '../types';
import { ApprovalProgress, DecisionDialog, gaveFirstApproval, RequestWarnings } from './requests';

function Fact({ label, children, testId }: { label: string; children: ComponentChildren; testId?: string }) {
  return (
    <>
      <dt>{label}</dt>
      <dd data-testid={testId}>{children}</dd>
    </>
  );
}

const none = <span class="muted">none</span>;

function authLabel(method: PendingRequestDetail['authMethod']): string {
  if (!method) return 'not recorded (held before this was kept)';
  return MECHANISMS.find((m) => m.value === method)?.label ?? method;
}

function CsrFacts({ csr }: { csr: DecodedCsr }) {
  if (csr.error) return <p class="notice error">{csr.error}</p>;
  return (
    <>
      <dl class="facts" data-testid="csr-fields">
        <Fact label="Subject">{csr.subject || '(empty)'}</Fact>
        <Fact label="Subject alternative names">
          {csr.sans?.length ? (
            <ul class="plain-list">
              {csr.sans.map((n) => (
                <li key={n}>{n}</li>
              ))}
            </ul>
          ) : none}
        </Fact>
        <Fact label="Public key" testId="csr-key">
          {csr.key ? `${csr.key.description}${csr.key.algorithm === 'rsa' ? '' : ` (${csr.key.bits} bits)`}` : '—'}
        </Fact>
        <Fact label="Signature algorithm">{csr.signatureAlgorithm}</Fact>
        <Fact label="challengePassword" testId="csr-challenge-password">
          {csr.challengePassword ? 'present (value not shown)' : 'absent'}
        </Fact>
        <Fact label="Attributes">{csr.attributes?.join(', ') || none}</Fact>
      </dl>
      <h3>Extensions requested</h3>
      {csr.extensions?.length ? (
        <DataTable columns={['Extension', 'OID', 'Value']} actions={false} testId="csr-extensions">
          {csr.extensions.map((e) => (
            <tr key={e.oid}>
              <th scope="row">{e.name}</th>
              <td>
                <code>{e.oid}</code>
              </td>
              <td class="break-anywhere">{e.values.join(', ')}</td>
            </tr>
          ))}
        </DataTable>
      ) : (
        <p class="muted">No extensions requested.</p>
      )}
    </>
  );
}

export function RequestDetailScreen({ id }: { id: string }) {
  const session = useSession();
  const mayDecide = can(session.role, 'requests.decide');
  const { data, error, loading, reload } = useLoad(() => api.get<PendingRequestDetail>(`/api/requests/${encodeURIComponent(id)}`), id);
  const [deciding, setDeciding] = useState<'approve' | 'reject' | null>(null);
  const r = data;
  const open = r && r.status === 'pending' && !r.expired;
  return (
    <>
      <PageHeader title={`Request #${id}`} lead={r ? `${r.subject || '(empty subject)'} — ${r.operation} on profile ${r.profile}` : undefined}>
        <a href="/requests" class="button secondary">
          Back to requests
        </a>
      </PageHeader>
      <LoadError error={error} onRetry={reload} />
      <Loading show={loading && !data} />
      {r ? (
        <>
          {r.status === 'pending' ? <RequestWarnings warnings={r.warnings} /> : null}
          <section class="card" aria-labelledby="request-summary" data-testid="request-detail">
            <div class="card-head">
              <h2 id="request-summary">Request</h2>
              {mayDecide && open ? (
                <div class="card-actions">
                  {gaveFirstApproval(r, session.email) ? (
                    <span class="muted" data-testid="awaiting-second">
                      You gave the first approval; another officer gives the second.
                    </span>
                  ) : (
                    <button type="button" class="primary" onClick={() => setDeciding('approve')} data-testid="approve">
                      {r.approvalsRequired === 2 && !r.firstApproval ? 'Approve (first of two)' : 'Approve'}
                    </button>
                  )}
                  <button type="button" class="secondary danger" onClick={() => setDeciding('reject')} data-testid="reject">
                    Reject
                  </button>
                </div>
              ) : null}
            </div>
            <dl class="facts">
              <Fact label="Status" testId="request-status">
                {r.expired ? <Badge status="expired" label="expired" /> : <Badge status={r.status} />}
                <ApprovalProgress request={r} />
                {r.reason ? <span class="muted small-text block">{r.reason}</span> : null}
              </Fact>
              <Fact label="Approvals needed">{r.approvalsRequired === 2 ? 'Two different officers (four-eyes)' : 'One officer'}</Fact>
              {r.firstApproval ? (
                <Fact label="First approval" testId="first-approval">
                  {r.firstApproval.by}, {formatDateTime(r.firstApproval.at)}
                </Fact>
              ) : null}
              {r.decidedBy ? <Fact label="Decided by">{`${r.decidedBy}, ${formatDateTime(r.decidedAt)}`}</Fact> : null}
              {r.serial ? (
                <Fact label="Certificate">
                  <a href={`/certificates/${encodeURIComponent(r.serial)}`}>{r.serial}</a>
                </Fact>
              ) : null}
              <Fact label="Operation">{r.operation}</Fact>
              <Fact label="Profile">
                <a href={`/profiles/${encodeURIComponent(r.profile)}`}>{r.profile}</a>
              </Fact>
              <Fact label="Received">{`${formatDateTime(r.createdAt)} (${formatAge(r.ageSeconds)} ago)`}</Fact>
              <Fact label="Hold expires">{formatDateTime(r.expiresAt)}</Fact>
            </dl>
          </section>
          <section class="card" aria-labelledby="request-origin" data-testid="request-origin">
            <h2 id="request-origin">Requester</h2>
            <dl class="facts">
              <Fact label="Requester">{r.requester}</Fact>
              <Fact label="Authentication" testId="request-auth">{authLabel(r.authMethod)}</Fact>
              <Fact label="EST account">{r.account ?? none}</Fact>
              <Fact label="Client address" testId="request-address">{r.clientAddress ?? <span class="muted">not recorded</span>}</Fact>
              <Fact label="Client certificate" testId="request-client-certificate">
                {r.clientCertificate ? (
                  <dl class="facts nested">
                    <Fact label="Subject">{r.clientCertificate.subject}</Fact>
                    <Fact label="Issuer">{r.clientCertificate.issuer}</Fact>
                    <Fact label="Serial">
                      <code>{r.clientCertificate.serial}</code>
                    </Fact>
                    <Fact label="SHA-256 fingerprint">
                      <code class="fingerprint">{r.clientCertificate.fingerprintSha256}</code>
                    </Fact>
                  </dl>
                ) : none}
              </Fact>
            </dl>
          </section>
          <section class="card" aria-labelledby="request-csr">
            <h2 id="request-csr">Certificate signing request</h2>
            <CsrFacts csr={r.csr} />
          </section>
        </>
      ) : null}
      {r && deciding ? (
        <DecisionDialog
          request={r}
          decision={deciding}
          onClose={() => setDeciding(null)}
          onDone={() => {
            setDeciding(null);
            reload();
          }}
        />
      ) : null}
    </>
  );
}
