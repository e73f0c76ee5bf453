/**
 * Webhook endpoints and deliveries in the SQLite store (schema: webhooks-migration.ts). Each
 * method is one IMMEDIATE transaction on the store's connection: SQLite has one writer at a time,
 * so a claim (select the due deliveries, mark them claimed) cannot be taken twice, by another
 * process on the same file either. Events of issuances, revocations and held requests are queued
 * by triggers in the writer's own transactions; these methods only read and settle them.
 */
import type Database from 'better-sqlite3';
import type {
  ClaimedWebhookDelivery, NewWebhookEndpoint, WebhookAttempt, WebhookDelivery, WebhookDeliveryFilter, WebhookEndpoint, WebhookEventType,
} from './webhook-types.js';
import { iso } from './sqlite-rows.js';
import { StoreQueryError } from './store.js';

interface EndpointRow {
  id: number; url: string; events: string; expiring_days: string; secret: string; description: string; enabled: number; created_by: string; created_at: string;
}
interface DeliveryRow {
  id: number; endpoint_id: number; url: string; event_id: number; type: string; occurred_at: string; data: string; status: string; attempts: number;
  next_attempt_at: string; last_attempt_at: string | null; last_error: string | null; response_code: number | null; created_at: string;
  secret: string; claimed_until: string | null;
}

/** `,a,b,` from [a, b]: the triggers match one type with one substring test. */
export const frameEvents = (events: readonly string[]): string => `,${events.join(',')},`;
export const unframeEvents = (framed: string): WebhookEventType[] => framed.split(',').filter(Boolean) as WebhookEventType[];

const toEndpoint = (r: EndpointRow): WebhookEndpoint => ({
  id: r.id, url: r.url, events: unframeEvents(r.events), expiringDays: JSON.parse(r.expiring_days) as number[], sealedSecret: r.secret,
  description: r.description, createdBy: r.created_by, createdAt: new Date(r.created_at),
});

const toDelivery = (r: DeliveryRow): WebhookDelivery => ({
  id: r.id, endpointId: r.endpoint_id, url: r.url,
  event: { id: r.event_id, type: r.type as WebhookEventType, occurredAt: new Date(r.occurred_at), data: r.data },
  status: r.status as WebhookDelivery['status'], attempts: r.attempts, nextAttemptAt: new Date(r.next_attempt_at),
  lastAttemptAt: r.last_attempt_at ? new Date(r.last_attempt_at) : null, lastError: r.last_error, responseCode: r.response_code,
  createdAt: new Date(r.created_at),
});

const DELIVERY_SELECT = `SELECT d.id, d.endpoint_id, p.url, d.event_id, e.type, e.occurred_at, e.data, d.status, d.attempts, d.next_attempt_at,
  d.last_attempt_at, d.last_error, d.response_code, d.created_at, p.secret, d.claimed_until
  FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id JOIN webhook_endpoints p ON p.id = d.endpoint_id`;

const DAY_MS = 86_400_000;
/** cert.expiring events outlive any threshold (365 days at most): their certificates are not announced again. */
export const EXPIRING_KEPT_MS = 366 * DAY_MS;

/** The bands of an endpoint's thresholds: a certificate is announced at the smallest threshold it is within. */
export function expiryBands(days: readonly number[], at: Date): Array<{ days: number; after: Date; until: Date }> {
  const sorted = [...new Set(days)].sort((a, b) => a - b);
  return sorted.map((d, i) => ({ days: d, after: new Date(at.getTime() + (i === 0 ? 0 : sorted[i - 1]! * DAY_MS)), until: new Date(at.getTime() + d * DAY_MS) }));
}

export class SqliteWebhooks {
  constructor(private readonly db: Database.Database) {}

  createEndpoint(e: NewWebhookEndpoint): WebhookEndpoint {
    const row = this.db.prepare(`INSERT INTO webhook_endpoints (url, events, expiring_days, secret, description, enabled, created_by, created_at)
      VALUES (?, ?, ?, ?, ?, 1, ?, ?) RETURNING *`).get(e.url, frameEvents(e.events), JSON.stringify(e.expiringDays), e.sealedSecret, e.description,
      e.createdBy, iso(e.createdAt)) as EndpointRow;
    return toEndpoint(row);
  }

  getEndpoint(id: number): WebhookEndpoint | undefined {
    const row = this.db.prepare('SELECT * FROM webhook_endpoints WHERE id = ?').get(id) as EndpointRow | undefined;
    return row && toEndpoint(row);
  }

  listEndpoints(): WebhookEndpoint[] {
    return (this.db.prepare('SELECT * FROM webhook_endpoints ORDER BY id').all() as EndpointRow[]).map(toEndpoint);
  }

  deleteEndpoint(id: number): boolean {
    return this.db.transaction(() => {
      this.db.prepare('DELETE FROM webhook_deliveries WHERE endpoint_id = ?').run(id);
      return this.db.prepare('DELETE FROM webhook_endpoints WHERE id = ?').run(id).changes > 0;
    }).immediate();
  }

  queueExpiring(at: Date): number {
    return this.db.transaction(() => {
      let queued = 0;
      const endpoints = this.listEndpoints().filter((e) => e.events.includes('cert.expiring'));
      for (const e of endpoints) {
        for (const band of expiryBands(e.expiringDays, at)) {
          const window = { after: iso(band.after), until: iso(band.until), days: band.days, at: iso(at) };
          this.db.prepare(`INSERT INTO webhook_events (type, occurred_at, data, dedupe_key)
            SELECT 'cert.expiring', @at, json_object('serial', serial, 'profile', profile, 'ca', ca, 'subject', subject, 'sans', json(sans),
              'notBefore', not_before, 'notAfter', not_after, 'requester', requester, 'days', @days), 'cert.expiring:' || serial || ':' || @days
            FROM certificates WHERE status = 'valid' AND not_after > @after AND not_after <= @until
            ON CONFLICT (dedupe_key) DO NOTHING`).run(window);
          queued += this.db.prepare(`INSERT INTO webhook_deliveries (event_id, endpoint_id, status, attempts, next_attempt_at, created_at)
            SELECT ev.id, @endpoint, 'pending', 0, @at, @at FROM certificates c JOIN webhook_events ev ON ev.dedupe_key = 'cert.expiring:' || c.serial || ':' || @days
            WHERE c.status = 'valid' AND c.not_after > @after AND c.not_after <= @until
            ON CONFLICT (event_id, endpoint_id) DO NOTHING`).run({ ...window, endpoint: e.id }).changes;
        }
      }
      return queued;
    }).immediate();
  }

  claim(holder: string, at: Date, leaseMs: number, limit: number): ClaimedWebhookDelivery[] {
    const now = iso(at);
    // The common case (nothing due) takes no write lock.
    const due = this.db.prepare(`SELECT 1 FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ?
      AND (claimed_until IS NULL OR claimed_until <= ?) LIMIT 1`).get(now, now);
    if (!due) return [];
    return this.db.transaction(() => {
      const ids = (this.db.prepare(`UPDATE webhook_deliveries SET claimed_by = @holder, claimed_until = @until WHERE id IN (
          SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= @now AND (claimed_until IS NULL OR claimed_until <= @now)
          ORDER BY next_attempt_at, id LIMIT @limit) RETURNING id`)
        .all({ holder, until: iso(new Date(at.getTime() + leaseMs)), now, limit }) as Array<{ id: number }>).map((r) => r.id);
      if (ids.length === 0) return [];
      const rows = this.db.prepare(`${DELIVERY_SELECT} WHERE d.id IN (SELECT value FROM json_each(?)) ORDER BY d.next_attempt_at, d.id`)
        .all(JSON.stringify(ids)) as DeliveryRow[];
      return rows.map((r) => ({ ...toDelivery(r), sealedSecret: r.secret, claimedUntil: new Date(r.claimed_until!) }));
    }).immediate();
  }

  finish(holder: string, attempts: WebhookAttempt[]): number[] {
    if (attempts.length === 0) return [];
    const update = this.db.prepare(`UPDATE webhook_deliveries SET status = @status, attempts = attempts + 1, next_attempt_at = @next, last_attempt_at = @at,
      last_error = @error, response_code = @code, claimed_by = NULL, claimed_until = NULL WHERE id = @id AND claimed_by = @holder`);
    // One transaction (one fsync on this connection) for a round's attempts.
    return this.db.transaction(() => attempts.filter((a) => update.run({
      id: a.id, holder, status: a.status, next: iso(a.nextAttemptAt), at: iso(a.at), error: a.error, code: a.responseCode,
    }).changes > 0).map((a) => a.id)).immediate();
  }

  redeliver(id: number, at: Date): boolean {
    const now = iso(at);
    return this.db.prepare(`UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = @now, claimed_by = NULL, claimed_until = NULL
      WHERE id = @id AND (claimed_until IS NULL OR claimed_until <= @now)`).run({ id, now }).changes > 0;
  }

  purge(before: Date): number {
    const values = { before: iso(before), expiringBefore: iso(new Date(before.getTime() - EXPIRING_KEPT_MS)) };
    return this.db.transaction(() => {
      const n = this.db.prepare(`DELETE FROM webhook_deliveries WHERE id IN (SELECT d.id FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
        WHERE d.status <> 'pending' AND d.last_attempt_at < @before AND (e.type <> 'cert.expiring' OR e.occurred_at < @expiringBefore))`).run(values).changes;
      this.db.prepare(`DELETE FROM webhook_events WHERE NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id)
        AND (type <> 'cert.expiring' OR occurred_at < @expiringBefore)`).run({ expiringBefore: values.expiringBefore });
      return n;
    }).immediate();
  }

  getDelivery(id: number): WebhookDelivery | undefined {
    const row = this.db.prepare(`${DELIVERY_SELECT} WHERE d.id = ?`).get(id) as DeliveryRow | undefined;
    return row && toDelivery(row);
  }

  listDeliveries(f: WebhookDeliveryFilter): { items: WebhookDelivery[]; total: number } {
    const where: string[] = [];
    const values: Record<string, unknown> = { limit: f.limit ?? 100, offset: f.offset ?? 0 };
    if (f.endpointId !== undefined) {
      where.push('d.endpoint_id = @endpoint');
      values.endpoint = f.endpointId;
    }
    if (f.status !== undefined) {
      where.push('d.status = @status');
      values.status = f.status;
    }
    if (!Number.isInteger(values.limit) || (values.limit as number) < 1 || !Number.isInteger(values.offset) || (values.offset as number) < 0) {
      throw new StoreQueryError('listWebhookDeliveries: limit and offset must be non-negative integers');
    }
    const sql = where.length ? ` WHERE ${where.join(' AND ')}` : '';
    const items = (this.db.prepare(`${DELIVERY_SELECT}${sql} ORDER BY d.id DESC LIMIT @limit OFFSET @offset`).all(values) as DeliveryRow[]).map(toDelivery);
    const { limit: _l, offset: _o, ...filter } = values;
    const total = (this.db.prepare(`SELECT COUNT(*) AS n FROM webhook_deliveries d${sql}`).get(filter) as { n: number }).n;
    return { items, total };
  }
}
