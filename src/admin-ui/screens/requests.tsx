/** Held enrollment requests (RFC 7030 §4.2.3): approve or reject with a reason; four-eyes profiles take two approvals. */
import { useState } from 'preact/hooks';
import { api, describeError, query } from '../api';
import { Badge } from '../components/badge';
import { Dialog, DialogActions } from '../components/dialog';
import { SelectField, TextAreaField, type SubmitEvent } from '../components/fields';
import { DataTable, ProfileFilter } from '../components/list-screen';
import { Empty, LoadError, Loading, PageHeader } from '../components/page';
import { Pager } from '../components/pager';
import { formatAge, formatDateTime } from '../format';
import { can, useLoad, useSubmit } from '../hooks';
import { useSession } from '../session';
import { announce } from '../status';
import type { Page, PendingRequest, Profile, RequestWarning } from '../types';

type StatusFilter = 'pending' | 'approved' | 'rejected' | 'issued' | 'all';

const LIMIT = 50;

export function RequestsScreen() {
  const session = useSession();
  const mayDecide = can(session.role, 'requests.decide');
  const [status, setStatus] = useState<StatusFilter>('pending');
  const [profile, setProfile] = useState('');
  const [offset, setOffset] = useState(0);
  const [deciding, setDeciding] = useState<{ request: PendingRequest; decision: 'approve' | 'reject' } | null>(null);
  const profiles = useLoad(() => api.get<{ items: Profile[] }>('/api/profiles'), 'profiles');
  const { data, error, loading, reload } = useLoad(
    () => api.get<Page<PendingRequest>>(`/api/requests${query({ status, profile, offset, limit: LIMIT })}`),
    `${status}|${profile}|${offset}`,
  );
  const items = data?.items ?? [];

  return (
    <>
      <PageHeader title="Pending requests" lead="Profiles with manual approval hold enrolments here; the client's next re-send gets the certificate or the rejection.">
        <button type="button" class="secondary" onClick={reload} data-testid="requests-refresh">
          Refresh
        </button>
      </PageHeader>
      <form class="toolbar filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter requests">
        <SelectField<StatusFilter>
          label="Status"
          name="status"
          value={status}
          onChange={(v) => {
            setStatus(v);
            setOffset(0);
          }}
          options={[
            { value: 'pending', label: 'Pending' },
            { value: 'approved', label: 'Approved, not yet collected' },
            { value: 'issued', label: 'Issued' },
            { value: 'rejected', label: 'Rejected' },
            { value: 'all', label: 'All' },
          ]}
        />
        <ProfileFilter
          profiles={profiles.data?.items}
          value={profile}
          onChange={(v) => {
            setProfile(v);
            setOffset(0);
          }}
        />
      </form>
      <LoadError error={error} onRetry={reload} />
      <Loading show={loading && !data} />
      {data && items.length === 0 ? <Empty>{status === 'pending' ? 'No request is waiting for a decision.' : 'No requests match.'}</Empty> : null}
      {items.length ? (
        <div class="table-wrap card flush">
          <DataTable columns={['Subject and SANs', 'Requester', 'Profile', 'Key', 'Age', 'Status']} actions={mayDecide} testId="requests-table">
            {items.map((r) => (
              <tr key={r.id} data-testid={`request-row-${r.id}`} data-subject={r.subject}>
                <th scope="row" class="break-anywhere">
                  <a class="subject" href={`/requests/${r.id}`} data-testid="request-link">
                    {r.subject || '(empty subject)'}
                  </a>
                  {r.sans.length ? (
                    <ul class="plain-list sans" aria-label="Subject alternative names">
                      {r.sans.map((s) => (
                        <li key={s}>{s}</li>
                      ))}
                    </ul>
                  ) : (
                    <span class="muted small-text block">no SANs</span>
                  )}
                  <span class="muted small-text block">request #{r.id}</span>
                  <RequestWarnings warnings={r.warnings} compact />
                </th>
                <td>{r.requester}</td>
                <td>{r.profile}</td>
                <td class="nowrap">{r.keyDescription}</td>
                <td class="nowrap" title={formatDateTime(r.createdAt)}>
                  {formatAge(r.ageSeconds)}
                </td>
                <td>
                  {r.expired ? <Badge status="expired" label="expired" /> : <Badge status={r.status} />}
                  <ApprovalProgress request={r} />
                  {r.reason ? <span class="muted small-text block">{r.reason}</span> : null}
                  {r.serial ? (
                    <a class="small-text block" href={`/certificates/${encodeURIComponent(r.serial)}`}>
                      certificate
                    </a>
                  ) : null}
                </td>
                {mayDecide ? (
                  <td class="actions">
                    {r.status === 'pending' && !r.expired ? (
                      <>
                        {gaveFirstApproval(r, session.email) ? (
                          <span class="muted small-text block" data-testid="awaiting-second">
                            awaiting another officer
                          </span>
                        ) : (
                          <button type="button" class="primary small" onClick={() => setDeciding({ request: r, decision: 'approve' })} aria-label={`Approve request ${r.id} for ${r.subject}`} data-testid="approve">
                            Approve
                          </button>
                        )}
                        <button type="button" class="secondary small danger" onClick={() => setDeciding({ request: r, decision: 'reject' })} aria-label={`Reject request ${r.id} for ${r.subject}`} data-testid="reject">
                          Reject
                        </button>
                      </>
                    ) : null}
                  </td>
                ) : null}
              </tr>
            ))}
          </DataTable>
          {data && data.total > data.items.length ? <Pager offset={data.offset} limit={data.limit || LIMIT} total={data.total} what="requests" onPage={setOffset} /> : null}
        </div>
      ) : null}
      {deciding ? (
        <DecisionDialog
          request={deciding.request}
          decision={deciding.decision}
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

/** "Same subject or key" warnings; `compact`: one line each, for the list. */
export function RequestWarnings({ warnings, compact = false }: { warnings: RequestWarning[]; compact?: boolean }) {
  if (warnings.length === 0) return null;
  return (
    <div class={`notice warning${compact ? ' compact' : ''}`} role="note" data-testid="request-warnings">
      <div>
        {compact ? null : <strong class="block">Check before approving</strong>}
        <ul class="plain-list">
          {warnings.map((w) => (
            <li key={`${w.kind}-${w.requestId ?? w.serial}`} data-kind={w.kind}>
              {w.serial ? <a href={`/certificates/${encodeURIComponent(w.serial)}`}>{w.message}</a> : w.requestId ? <a href={`/requests/${w.requestId}`}>{w.message}</a> : w.message}
            </li>
          ))}
        </ul>
      </div>
    </div>
  );
}

/** Four-eyes: this officer gave the first approval, so the second must come from someone else. */
export function gaveFirstApproval(r: PendingRequest, email: string): boolean {
  return r.approvalsRequired === 2 && r.firstApproval?.by.toLowerCase() === email.toLowerCase();
}

/** Four-eyes: how many of the two approvals a pending request has. */
export function ApprovalProgress({ request }: { request: PendingRequest }) {
  if (request.approvalsRequired !== 2 || request.status !== 'pending') return null;
  return (
    <span class="small-text block" data-testid="approval-progress">
      {request.firstApproval ? `1 of 2 approvals (${request.firstApproval.by})` : '0 of 2 approvals'}
    </span>
  );
}

export function DecisionDialog(props: { request: PendingRequest; decision: 'approve' | 'reject'; onClose: () => void; onDone: () => void }) {
  const { request, decision } = props;
  const [reason, setReason] = useState('');
  const { busy, error, setError, run } = useSubmit<string | undefined>(undefined, describeError);
  const approve = decision === 'approve';
  const firstOfTwo = request.approvalsRequired === 2 && !request.firstApproval;

  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    if (!approve && !reason.trim()) {
      setError('Give a reason: the client is told it.');
      return;
    }
    await run(async () => {
      const after = await api.post<PendingRequest>(`/api/requests/${request.id}/${decision}`, reason.trim() ? { reason: reason.trim() } : {});
      announce(
        !approve ? `Request ${request.id} rejected`
          : after.status === 'pending' ? `First approval of request ${request.id} recorded; it waits for a second officer`
            : `Request ${request.id} approved; the client gets its certificate on its next re-send`,
      );
      props.onDone();
    });
  };

  return (
    <Dialog title={`${approve ? 'Approve' : 'Reject'} request ${request.id}`} onClose={props.onClose} testId="decision-dialog">
      <form onSubmit={submit} noValidate>
        <dl class="facts">
          <dt>Subject</dt>
          <dd>{request.subject || '(empty)'}</dd>
          <dt>SANs</dt>
          <dd>{request.sans.join(', ') || 'none'}</dd>
          <dt>Requester</dt>
          <dd>{request.requester}</dd>
          <dt>Profile</dt>
          <dd>{request.profile}</dd>
          <dt>Key</dt>
          <dd>{request.keyDescription}</dd>
          {request.approvalsRequired === 2 ? (
            <>
              <dt>Approvals</dt>
              <dd>{request.firstApproval ? `Approved by ${request.firstApproval.by}; this approval is the second` : 'Four-eyes: this approval is the first of two'}</dd>
            </>
          ) : null}
        </dl>
        {approve ? <RequestWarnings warnings={request.warnings} /> : null}
        <TextAreaField
          label={approve ? 'Note (optional)' : 'Reason'}
          name="reason"
          value={reason}
          onInput={setReason}
          rows={2}
          required={!approve}
          hint={approve ? 'Kept in the audit log.' : 'Shown to the client and kept in the audit log.'}
          errors={error ? [{ field: 'reason', message: error }] : []}
        />
        <DialogActions testId="decision-confirm" busy={busy} onCancel={props.onClose} class={approve ? 'primary' : 'primary danger'}>
          {!approve ? 'Reject request' : firstOfTwo ? 'Record first approval' : 'Approve and issue'}
        </DialogActions>
      </form>
    </Dialog>
  );
}
