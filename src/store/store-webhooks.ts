/**
 * The Store's part for webhooks (webhook-types.ts): sqlite-webhooks.ts and postgres-webhooks.ts
 * implement it; events are queued by triggers (webhooks-migration.ts).
 */
import type {
  ClaimedWebhookDelivery, NewWebhookEndpoint, WebhookAttempt, WebhookDelivery, WebhookDeliveryFilter, WebhookEndpoint,
} from './webhook-types.js';

export interface WebhookStore {
  createWebhookEndpoint(endpoint: NewWebhookEndpoint): Promise<WebhookEndpoint>;
  getWebhookEndpoint(id: number): Promise<WebhookEndpoint | undefined>;
  listWebhookEndpoints(): Promise<WebhookEndpoint[]>;
  /** Removes the endpoint and its deliveries; false when no such endpoint exists. */
  deleteWebhookEndpoint(id: number): Promise<boolean>;
  /** Queue cert.expiring for valid certificates within an endpoint's thresholds at `at`, once per certificate, threshold and endpoint; returns how many deliveries. */
  queueExpiringWebhooks(at: Date): Promise<number>;
  /** Claim up to `limit` deliveries due at `at` for `holder` until `at + leaseMs`; no other holder gets them meanwhile. */
  claimWebhookDeliveries(holder: string, at: Date, leaseMs: number, limit: number): Promise<ClaimedWebhookDelivery[]>;
  /**
   * Record attempts of deliveries `holder` claimed, in one transaction (the claims end); returns the
   * ids recorded, leaving out those that are not (any more) its claim.
   */
  finishWebhookDeliveries(holder: string, attempts: WebhookAttempt[]): Promise<number[]>;
  /** Send a delivery again from its first attempt, now; false when no such delivery or it is being attempted. */
  redeliverWebhook(id: number, at: Date): Promise<boolean>;
  getWebhookDelivery(id: number): Promise<WebhookDelivery | undefined>;
  /**
   * Forget deliveries delivered or failed before `before`, and events left without deliveries. A
   * cert.expiring delivery is kept until its event is 366 days older than `before` (beyond any
   * threshold), so that its certificate is not announced again. Returns how many deliveries.
   */
  purgeWebhookDeliveries(before: Date): Promise<number>;
  /** Newest first (default limit 100), with how many match. */
  listWebhookDeliveries(filter?: WebhookDeliveryFilter): Promise<{ items: WebhookDelivery[]; total: number }>;
}
