/**
 * Delivers the queued webhook deliveries: every `pollMs` it claims the due ones (the claim is the
 * store's: one instance at a time holds a delivery, for `timeoutMs` plus a margin, and a claim
 * whose instance died ends by itself), POSTs each (webhook-sender.ts) and records the attempt:
 * delivered on a 2xx; else retried after retryBaseMs · 2^(attempt-1), at most retryMaxMs, until
 * `maxAttempts` attempts, then failed. Every `scanMs` it queues the expiring certificates, under
 * a lease so one instance scans at a time (the store's dedupe makes a second scan harmless anyway),
 * and forgets deliveries finished more than `retentionMs` ago.
 * Nothing here runs on the EST request path: the request path only inserts, by trigger.
 */
import type { Store } from '../store/store.js';
import type { ClaimedWebhookDelivery, WebhookAttempt, WebhookDeliveryStatus } from '../store/webhook-types.js';
import type { SecretBox } from './webhook-secrets.js';
import { sendWebhook, type AttemptResult } from './webhook-sender.js';

export interface WebhookSettings {
  maxAttempts: number;
  timeoutMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  pollMs: number;
  scanMs: number;
  /** cert.expiring thresholds of endpoints added without their own. */
  expiringDays: number[];
  /** Deliveries claimed (and attempted concurrently) at once. */
  batch: number;
  /** Delivered and failed deliveries are forgotten this long after their last attempt. */
  retentionMs: number;
  /** Extra trust anchors (PEM) for https endpoints. */
  ca?: string | undefined;
}

export const DEFAULT_WEBHOOK_SETTINGS: WebhookSettings = {
  maxAttempts: 8, timeoutMs: 10_000, retryBaseMs: 30_000, retryMaxMs: 3_600_000, pollMs: 2_000, scanMs: 3_600_000, expiringDays: [30, 7], batch: 16, retentionMs: 30 * 86_400_000,
};

export interface DispatcherOptions {
  store: Store;
  box: SecretBox;
  settings: WebhookSettings;
  /** This instance's name in claims and leases (unique per process). */
  holder: string;
  now?: () => Date;
  logger?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
}

const CLAIM_MARGIN_MS = 30_000;
export const EXPIRY_LEASE = 'webhooks.expiring-scan';

/** When the next attempt is due after `attempt` failed ones (1-based). */
export function retryDelayMs(s: Pick<WebhookSettings, 'retryBaseMs' | 'retryMaxMs'>, attempt: number): number {
  return Math.min(s.retryMaxMs, s.retryBaseMs * 2 ** Math.min(attempt - 1, 30));
}

export class WebhookDispatcher {
  private readonly now: () => Date;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = false;
  private lastScan = 0;

  constructor(private readonly o: DispatcherOptions) {
    this.now = o.now ?? (() => new Date());
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => {
        this.running = undefined;
        this.schedule(this.o.settings.pollMs);
      });
    }, ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      if (Date.now() - this.lastScan >= this.o.settings.scanMs) {
        this.lastScan = Date.now();
        await this.scanExpiring();
      }
      while (!this.stopped && (await this.deliverDue()) === this.o.settings.batch);
    } catch (err) {
      this.o.logger?.warn({ err: (err as Error).message }, 'webhook delivery round failed; retrying on the next one');
    }
  }

  /** Queues cert.expiring deliveries if this instance gets the scan lease; returns how many. */
  async scanExpiring(): Promise<number> {
    const at = this.now();
    if (!(await this.o.store.acquireLease(EXPIRY_LEASE, this.o.holder, at, Math.max(60_000, this.o.settings.pollMs * 10)))) return 0;
    const queued = await this.o.store.queueExpiringWebhooks(at);
    if (queued > 0) this.o.logger?.info({ queued }, 'expiring certificates queued for webhooks');
    const purged = await this.o.store.purgeWebhookDeliveries(new Date(at.getTime() - this.o.settings.retentionMs));
    if (purged > 0) this.o.logger?.info({ purged }, 'old webhook deliveries forgotten');
    return queued;
  }

  /** Claims the due deliveries and attempts each once; returns how many were claimed. */
  async deliverDue(): Promise<number> {
    const s = this.o.settings;
    const claimed = await this.o.store.claimWebhookDeliveries(this.o.holder, this.now(), s.timeoutMs + CLAIM_MARGIN_MS, s.batch);
    if (claimed.length === 0) return 0;
    const attempts = await Promise.all(claimed.map((d) => this.attempt(d)));
    // One write for the round: on SQLite, one commit on the server's connection instead of one per delivery.
    const recorded = new Set(await this.o.store.finishWebhookDeliveries(this.o.holder, attempts));
    for (const a of attempts) if (!recorded.has(a.id)) this.o.logger?.warn({ delivery: a.id }, 'webhook delivery claim ended before its attempt was recorded');
    return claimed.length;
  }

  private async attempt(d: ClaimedWebhookDelivery): Promise<WebhookAttempt> {
    const s = this.o.settings;
    const attempt = d.attempts + 1;
    const at = this.now();
    let result: AttemptResult;
    try {
      const secret = this.o.box.open(d.sealedSecret);
      result = await sendWebhook(d.url, secret, { eventId: `evt_${d.event.id}`, type: d.event.type, occurredAt: d.event.occurredAt, data: d.event.data },
        { timeoutMs: s.timeoutMs, ca: s.ca, attempt, now: at });
    } catch (err) {
      result = { ok: false, responseCode: null, error: (err as Error).message };
    }
    const status: WebhookDeliveryStatus = result.ok ? 'delivered' : attempt >= s.maxAttempts ? 'failed' : 'pending';
    const next = new Date(at.getTime() + (status === 'pending' ? retryDelayMs(s, attempt) : 0));
    const log = { delivery: d.id, event: `evt_${d.event.id}`, type: d.event.type, url: d.url, attempt, responseCode: result.responseCode };
    if (status === 'failed') this.o.logger?.warn({ ...log, error: result.error }, 'webhook delivery failed; giving up');
    else if (status === 'pending') this.o.logger?.info({ ...log, error: result.error, retryAt: next.toISOString() }, 'webhook delivery failed; will retry');
    return { id: d.id, at, status, nextAttemptAt: next, responseCode: result.responseCode, error: result.error };
  }

  /** Stops polling and waits for the round in progress (its attempts are recorded). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
