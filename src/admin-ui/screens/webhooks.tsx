/** Webhooks: the endpoints (add, test, remove) and the deliveries with their status (redeliver). */
import { useState } from 'preact/hooks';
import { api, describeError, query } from '../api';
import { Badge } from '../components/badge';
import { SelectField } from '../components/fields';
import { DataTable } from '../components/list-screen';
import { Empty, LoadError, Loading, PageHeader } from '../components/page';
import { Pager } from '../components/pager';
import { AddWebhookDialog, type WebhookEndpoint } from '../components/webhook-dialog';
import { formatDate } from '../format';
import { useLoad, usePageTitle } from '../hooks';
import { useSession } from '../session';
import { announce } from '../status';

interface Delivery {
  id: number;
  endpointId: number;
  url: string;
  eventId: string;
  eventType: string;
  occurredAt: string;
  data: Record<string, unknown>;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  nextAttemptAt: string;
  lastAttemptAt: string | null;
  lastError: string | null;
  responseCode: number | null;
}

type StatusFilter = '' | Delivery['status'];
const LIMIT = 25;
const STATUS_BADGE: Record<Delivery['status'], string> = { pending: 'pending', delivered: 'success', failed: 'failure' };

/** What the event is about, in a few words. */
function about(d: Delivery): string {
  const x = d.data;
  if (typeof x.serial === 'string') return `${String(x.subject ?? '')} (${x.serial})${typeof x.days === 'number' ? `, within ${x.days} days` : ''}`;
  if (typeof x.requestId === 'number') return `request ${x.requestId}: ${String(x.subject ?? '')}`;
  return '';
}

export function WebhooksScreen() {
  usePageTitle('Webhooks');
  const session = useSession();
  const mayWrite = session.role === 'admin'; // the API lets admins change webhooks; every role reads them
  const endpoints = useLoad(() => api.get<{ items: WebhookEndpoint[] }>('/api/webhooks'), 'webhooks');
  const [status, setStatus] = useState<StatusFilter>('');
  const [offset, setOffset] = useState(0);
  const deliveries = useLoad(
    () => api.get<{ items: Delivery[]; total: number }>(`/api/webhook-deliveries${query({ status, offset, limit: LIMIT })}`),
    `deliveries:${status}:${offset}`,
  );
  const [adding, setAdding] = useState(false);

  const test = async (e: WebhookEndpoint) => {
    try {
      const r = await api.post<{ ok: boolean; responseCode: number | null; error: string | null }>(`/api/webhooks/${e.id}/test`);
      if (r.ok) announce(`${e.url} answered the test event with HTTP ${r.responseCode}`);
      else announce(`${e.url} did not take the test event: ${r.error ?? 'failed'}`, 'error');
    } catch (err) {
      announce(`Could not test ${e.url}: ${describeError(err)}`, 'error');
    }
  };
  const remove = async (e: WebhookEndpoint) => {
    if (!window.confirm(`Remove the webhook ${e.url}? Its deliveries are removed too; events are no longer sent to it.`)) return;
    try {
      await api.del(`/api/webhooks/${e.id}`);
      announce(`Webhook ${e.url} removed`);
      endpoints.reload();
      deliveries.reload();
    } catch (err) {
      announce(`Could not remove ${e.url}: ${describeError(err)}`, 'error');
    }
  };
  const redeliver = async (d: Delivery) => {
    try {
      await api.post(`/api/webhook-deliveries/${d.id}/redeliver`);
      announce(`${d.eventId} queued again for ${d.url}`);
      deliveries.reload();
    } catch (err) {
      announce(`Could not redeliver ${d.eventId}: ${describeError(err)}`, 'error');
    }
  };

  const list = endpoints.data?.items ?? [];
  const page = deliveries.data;
  return (
    <>
      <PageHeader title="Webhooks" lead="Endpoints notified, as signed JSON, of requests waiting for approval and of certificates issued, revoked or expiring soon.">
        {mayWrite ? (
          <button type="button" class="primary" onClick={() => setAdding(true)} data-testid="new-webhook">
            New webhook
          </button>
        ) : null}
      </PageHeader>
      <LoadError error={endpoints.error} onRetry={endpoints.reload} />
      <Loading show={endpoints.loading && !endpoints.data} />
      {endpoints.data && list.length === 0 ? <Empty>No webhooks yet.</Empty> : null}
      {list.length ? (
        <div class="table-wrap card flush">
          <DataTable columns={['URL', 'Events', 'Expiring within', 'Description', 'Added']} actions={mayWrite} testId="webhooks-table">
            {list.map((e) => (
              <tr key={e.id} data-testid={`webhook-row-${e.id}`}>
                <th scope="row" class="break-anywhere">
                  {e.url}
                </th>
                <td>{e.events.join(', ')}</td>
                <td>{e.events.includes('cert.expiring') ? `${e.expiringDays.join(', ')} days` : <span class="muted">—</span>}</td>
                <td>{e.description || <span class="muted">—</span>}</td>
                <td>
                  {formatDate(e.createdAt)} <span class="muted">by {e.createdBy}</span>
                </td>
                {mayWrite ? (
                  <td class="actions">
                    <button type="button" class="secondary small" onClick={() => test(e)} aria-label={`Send a test event to ${e.url}`}>
                      Send test
                    </button>
                    <button type="button" class="secondary small" onClick={() => remove(e)} aria-label={`Remove the webhook ${e.url}`}>
                      Remove
                    </button>
                  </td>
                ) : null}
              </tr>
            ))}
          </DataTable>
        </div>
      ) : null}

      <h2>Deliveries</h2>
      <div class="toolbar">
        <SelectField<StatusFilter>
          label="Status"
          name="deliveryStatus"
          value={status}
          onChange={(v) => {
            setStatus(v);
            setOffset(0);
          }}
          options={[
            { value: '', label: 'All' },
            { value: 'pending', label: 'Pending (waiting or retrying)' },
            { value: 'delivered', label: 'Delivered' },
            { value: 'failed', label: 'Failed (gave up)' },
          ]}
        />
        <button type="button" class="secondary" onClick={deliveries.reload} data-testid="refresh-deliveries">
          Refresh
        </button>
      </div>
      <LoadError error={deliveries.error} onRetry={deliveries.reload} />
      <Loading show={deliveries.loading && !page} />
      {page && page.items.length === 0 ? <Empty>No deliveries to show.</Empty> : null}
      {page && page.items.length ? (
        <>
          <div class="table-wrap card flush">
            <DataTable columns={['Event', 'About', 'Endpoint', 'Status', 'Attempts', 'Last answer', 'Last attempt']} actions={mayWrite} testId="deliveries-table">
              {page.items.map((d) => (
                <tr key={d.id} data-testid={`delivery-row-${d.id}`}>
                  <th scope="row">
                    <code>{d.eventType}</code> <span class="muted">{d.eventId}</span>
                  </th>
                  <td class="break-anywhere">{about(d)}</td>
                  <td class="break-anywhere">{d.url}</td>
                  <td data-testid="delivery-status">
                    <Badge status={STATUS_BADGE[d.status]} label={d.status} />
                    {d.status === 'pending' && d.attempts > 0 ? <span class="muted"> next {formatDate(d.nextAttemptAt)}</span> : null}
                  </td>
                  <td data-testid="delivery-attempts">{d.attempts}</td>
                  <td data-testid="delivery-answer">{d.responseCode !== null ? `HTTP ${d.responseCode}` : ''}{d.lastError && d.lastError !== `HTTP ${d.responseCode}` ? ` ${d.lastError}` : ''}</td>
                  <td>{d.lastAttemptAt ? formatDate(d.lastAttemptAt) : <span class="muted">not yet</span>}</td>
                  {mayWrite ? (
                    <td class="actions">
                      <button type="button" class="secondary small" onClick={() => redeliver(d)} aria-label={`Redeliver ${d.eventId} to ${d.url}`} data-testid={`redeliver-${d.id}`}>
                        Redeliver
                      </button>
                    </td>
                  ) : null}
                </tr>
              ))}
            </DataTable>
          </div>
          <Pager offset={offset} limit={LIMIT} total={page.total} onPage={setOffset} what="deliveries" />
        </>
      ) : null}
      {adding ? (
        <AddWebhookDialog
          onClose={() => setAdding(false)}
          onChanged={() => {
            endpoints.reload();
          }}
        />
      ) : null}
    </>
  );
}
