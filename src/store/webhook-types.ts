/**
 * Webhooks in the store: endpoints an admin configured, events queued for them (by triggers in
 * the transaction of the change itself, webhooks-migration.ts) and one delivery per event and
 * endpoint, claimed by one instance at a time (src/notify/webhook-dispatcher.ts delivers them).
 */

/** What an endpoint can subscribe to. `webhook.test` is sent on demand only (`estuary webhook test`). */
export const WEBHOOK_EVENT_TYPES = ['request.pending', 'cert.issued', 'cert.revoked', 'cert.expiring'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export interface NewWebhookEndpoint {
  url: string;
  events: WebhookEventType[];
  /** cert.expiring thresholds in days (each certificate is announced once per threshold), e.g. [30, 7]. */
  expiringDays: number[];
  /** The signing secret as the notify layer sealed it (never the plain secret). */
  sealedSecret: string;
  description: string;
  createdBy: string;
  createdAt: Date;
}

export interface WebhookEndpoint extends NewWebhookEndpoint {
  id: number;
}

export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface WebhookEvent {
  id: number;
  type: WebhookEventType | 'webhook.test';
  occurredAt: Date;
  /** The event's details as JSON text (serial, subject, …), exactly as sent. */
  data: string;
}

export interface WebhookDelivery {
  id: number;
  endpointId: number;
  url: string;
  event: WebhookEvent;
  status: WebhookDeliveryStatus;
  attempts: number;
  nextAttemptAt: Date;
  lastAttemptAt: Date | null;
  lastError: string | null;
  responseCode: number | null;
  createdAt: Date;
}

/** A delivery one instance claimed: it alone attempts it until `claimedUntil`. */
export interface ClaimedWebhookDelivery extends WebhookDelivery {
  sealedSecret: string;
  claimedUntil: Date;
}

/** The outcome of one attempt of delivery `id`, decided by the dispatcher. */
export interface WebhookAttempt {
  id: number;
  at: Date;
  /** `pending`: try again at `nextAttemptAt`; `failed`: gave up. */
  status: WebhookDeliveryStatus;
  nextAttemptAt: Date;
  responseCode: number | null;
  error: string | null;
}

export interface WebhookDeliveryFilter {
  endpointId?: number;
  status?: WebhookDeliveryStatus;
  limit?: number;
  offset?: number;
}
