/**
 * Webhook endpoints and deliveries in the PostgreSQL store (schema: webhooks-migration.ts). Each
 * method is one statement, hence one transaction. A claim takes the due rows FOR UPDATE SKIP
 * LOCKED, so instances claiming at the same moment split the work instead of taking one delivery twice.
 */
import type { Query } from './postgres-shared.js';
import { EXPIRING_KEPT_MS, expiryBands, frameEvents, unframeEvents } from './sqlite-webhooks.js';
import { StoreQueryError } from './store.js';
import type {
  ClaimedWebhookDelivery, NewWebhookEndpoint, WebhookAttempt, WebhookDelivery, WebhookDeliveryFilter, WebhookEndpoint, WebhookEventType,
} from './webhook-types.js';

interface EndpointRow {
  id: number; url: string; events: string; expiring_days: number[]; secret: string; description: string; enabled: boolean; created_by: string; created_at: Date;
}
interface DeliveryRow {
  id: string; endpoint_id: number; url: string; event_id: string; type: string; occurred_at: Date; data: string; status: string; attempts: number;
  next_attempt_at: Date; last_attempt_at: Date | null; last_error: string | null; response_code: number | null; created_at: Date;
  secret: string; claimed_until: Date | null;
}

const toEndpoint = (r: EndpointRow): WebhookEndpoint => ({
  id: r.id, url: r.url, events: unframeEvents(r.events), expiringDays: r.expiring_days, sealedSecret: r.secret, description: r.description,
  createdBy: r.created_by, createdAt: r.created_at,
});

const toDelivery = (r: DeliveryRow): WebhookDelivery => ({
  id: Number(r.id), endpointId: r.endpoint_id, url: r.url,
  event: { id: Number(r.event_id), type: r.type as WebhookEventType, occurredAt: r.occurred_at, data: r.data },
  status: r.status as WebhookDelivery['status'], attempts: r.attempts, nextAttemptAt: r.next_attempt_at, lastAttemptAt: r.last_attempt_at,
  lastError: r.last_error, responseCode: r.response_code, createdAt: r.created_at,
});

const DELIVERY_COLUMNS = `d.id, d.endpoint_id, p.url, d.event_id, e.type, e.occurred_at, e.data, d.status, d.attempts, d.next_attempt_at,
  d.last_attempt_at, d.last_error, d.response_code, d.created_at, p.secret, d.claimed_until`;
const DELIVERY_JOIN = 'JOIN webhook_events e ON e.id = d.event_id JOIN webhook_endpoints p ON p.id = d.endpoint_id';
const ISO = (t: string) => `to_char(${t} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

export class PostgresWebhooks {
  constructor(private readonly query: Query) {}

  async createEndpoint(e: NewWebhookEndpoint): Promise<WebhookEndpoint> {
    const { rows } = await this.query<EndpointRow>('createWebhookEndpoint', `INSERT INTO webhook_endpoints
      (url, events, expiring_days, secret, description, enabled, created_by, created_at) VALUES ($1, $2, $3, $4, $5, true, $6, $7) RETURNING *`,
    [e.url, frameEvents(e.events), JSON.stringify(e.expiringDays), e.sealedSecret, e.description, e.createdBy, e.createdAt]);
    return toEndpoint(rows[0]!);
  }

  async getEndpoint(id: number): Promise<WebhookEndpoint | undefined> {
    const { rows } = await this.query<EndpointRow>('getWebhookEndpoint', 'SELECT * FROM webhook_endpoints WHERE id = $1', [id]);
    return rows[0] && toEndpoint(rows[0]);
  }

  async listEndpoints(): Promise<WebhookEndpoint[]> {
    return (await this.query<EndpointRow>('listWebhookEndpoints', 'SELECT * FROM webhook_endpoints ORDER BY id', [])).rows.map(toEndpoint);
  }

  async deleteEndpoint(id: number): Promise<boolean> {
    return (await this.query('deleteWebhookEndpoint', 'DELETE FROM webhook_endpoints WHERE id = $1', [id])).rowCount > 0;
  }

  async queueExpiring(at: Date): Promise<number> {
    let queued = 0;
    const endpoints = (await this.listEndpoints()).filter((e) => e.events.includes('cert.expiring'));
    for (const e of endpoints) {
      for (const band of expiryBands(e.expiringDays, at)) {
        // Both steps in one statement: the event once per certificate and threshold, the delivery once per endpoint.
        const { rowCount } = await this.query('queueExpiringWebhooks', `WITH c AS (
            SELECT serial, profile, ca, subject, sans, not_before, not_after, requester, 'cert.expiring:' || serial || ':' || $4::text AS key
            FROM certificates WHERE status = 'valid' AND not_after > $2::timestamptz AND not_after <= $3::timestamptz
          ), ins AS (
            INSERT INTO webhook_events (type, occurred_at, data, dedupe_key)
            SELECT 'cert.expiring', $1::timestamptz, jsonb_build_object('serial', serial, 'profile', profile, 'ca', ca, 'subject', subject, 'sans', sans::jsonb,
              'notBefore', ${ISO('not_before')}, 'notAfter', ${ISO('not_after')}, 'requester', requester, 'days', $4::integer)::text, key FROM c
            ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, dedupe_key
          ), ev AS (
            SELECT id FROM ins UNION SELECT w.id FROM webhook_events w JOIN c ON w.dedupe_key = c.key
          )
          INSERT INTO webhook_deliveries (event_id, endpoint_id, status, attempts, next_attempt_at, created_at)
          SELECT ev.id, $5::integer, 'pending', 0, $1::timestamptz, $1::timestamptz FROM ev ON CONFLICT (event_id, endpoint_id) DO NOTHING`,
        [at, band.after, band.until, band.days, e.id]);
        queued += rowCount;
      }
    }
    return queued;
  }

  async claim(holder: string, at: Date, leaseMs: number, limit: number): Promise<ClaimedWebhookDelivery[]> {
    const { rows } = await this.query<DeliveryRow>('claimWebhookDeliveries', `WITH due AS (
        SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $2 AND (claimed_until IS NULL OR claimed_until <= $2)
        ORDER BY next_attempt_at, id LIMIT $4 FOR UPDATE SKIP LOCKED
      ), d AS (
        UPDATE webhook_deliveries w SET claimed_by = $1, claimed_until = $3 FROM due WHERE w.id = due.id RETURNING w.*
      ) SELECT ${DELIVERY_COLUMNS} FROM d ${DELIVERY_JOIN} ORDER BY d.next_attempt_at, d.id`,
    [holder, at, new Date(at.getTime() + leaseMs), limit]);
    return rows.map((r) => ({ ...toDelivery(r), sealedSecret: r.secret, claimedUntil: r.claimed_until! }));
  }

  async finish(holder: string, attempts: WebhookAttempt[]): Promise<number[]> {
    if (attempts.length === 0) return [];
    const items = attempts.map((a) => ({ id: a.id, status: a.status, next: a.nextAttemptAt.toISOString(), at: a.at.toISOString(), error: a.error, code: a.responseCode }));
    const { rows } = await this.query<{ id: string }>('finishWebhookDeliveries', `UPDATE webhook_deliveries w SET status = a.status, attempts = w.attempts + 1,
      next_attempt_at = a.next, last_attempt_at = a.at, last_error = a.error, response_code = a.code, claimed_by = NULL, claimed_until = NULL
      FROM jsonb_to_recordset($2::jsonb) AS a(id bigint, status text, next timestamptz, at timestamptz, error text, code integer)
      WHERE w.id = a.id AND w.claimed_by = $1 RETURNING w.id`, [holder, JSON.stringify(items)]);
    return rows.map((r) => Number(r.id));
  }

  async redeliver(id: number, at: Date): Promise<boolean> {
    const { rowCount } = await this.query('redeliverWebhook', `UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = $2,
      claimed_by = NULL, claimed_until = NULL WHERE id = $1 AND (claimed_until IS NULL OR claimed_until <= $2)`, [id, at]);
    return rowCount > 0;
  }

  async purge(before: Date): Promise<number> {
    const { rows } = await this.query<{ n: number }>('purgeWebhookDeliveries', `WITH d AS (
        DELETE FROM webhook_deliveries w USING webhook_events e WHERE e.id = w.event_id AND w.status <> 'pending' AND w.last_attempt_at < $1
          AND (e.type <> 'cert.expiring' OR e.occurred_at < $2) RETURNING w.event_id
      ), e AS (
        -- the events left without deliveries (one snapshot: the deleted rows still count here, hence the comparison)
        DELETE FROM webhook_events v WHERE v.id IN (SELECT event_id FROM d)
          AND (SELECT COUNT(*) FROM webhook_deliveries o WHERE o.event_id = v.id) = (SELECT COUNT(*) FROM d WHERE d.event_id = v.id)
        RETURNING v.id
      ) SELECT (SELECT COUNT(*) FROM d)::int AS n`, [before, new Date(before.getTime() - EXPIRING_KEPT_MS)]);
    return rows[0]!.n;
  }

  async getDelivery(id: number): Promise<WebhookDelivery | undefined> {
    const { rows } = await this.query<DeliveryRow>('getWebhookDelivery', `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d ${DELIVERY_JOIN} WHERE d.id = $1`, [id]);
    return rows[0] && toDelivery(rows[0]);
  }

  async listDeliveries(f: WebhookDeliveryFilter): Promise<{ items: WebhookDelivery[]; total: number }> {
    const limit = f.limit ?? 100;
    const offset = f.offset ?? 0;
    if (!Number.isInteger(limit) || limit < 1 || !Number.isInteger(offset) || offset < 0) {
      throw new StoreQueryError('listWebhookDeliveries: limit and offset must be non-negative integers');
    }
    const where: string[] = [];
    const values: unknown[] = [];
    if (f.endpointId !== undefined) where.push(`d.endpoint_id = $${values.push(f.endpointId)}`);
    if (f.status !== undefined) where.push(`d.status = $${values.push(f.status)}`);
    const sql = where.length ? ` WHERE ${where.join(' AND ')}` : '';
    const [page, count] = await Promise.all([
      this.query<DeliveryRow>('listWebhookDeliveries', `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d ${DELIVERY_JOIN}${sql}
        ORDER BY d.id DESC LIMIT $${values.length + 1} OFFSET $${values.length + 2}`, [...values, limit, offset]),
      this.query<{ n: number }>('countWebhookDeliveries', `SELECT COUNT(*)::int AS n FROM webhook_deliveries d${sql}`, values),
    ]);
    return { items: page.rows.map(toDelivery), total: count.rows[0]!.n };
  }
}
