/**
 * What an admin may configure for a webhook endpoint (CLI, Web RA, API), checked in one place:
 * the URL is https, or http to this machine only (127.0.0.0/8, ::1, localhost) unless
 * `allowHttp` says otherwise; at least one known event; cert.expiring thresholds of 1 to 365 days.
 */
import { WEBHOOK_EVENT_TYPES, type WebhookEventType } from '../store/webhook-types.js';

export class WebhookInputError extends Error {
  constructor(readonly field: string, readonly reason: string) {
    super(`${field}: ${reason}`);
    this.name = 'WebhookInputError';
  }
}

export interface WebhookInput {
  url: string;
  events: readonly string[];
  /** Undefined: the configured default (webhooks.expiringDays). */
  expiringDays?: readonly number[] | undefined;
  description?: string | undefined;
  allowHttp?: boolean | undefined;
}

export interface ValidWebhookInput {
  url: string;
  events: WebhookEventType[];
  expiringDays: number[];
  description: string;
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

export function validateWebhookInput(input: WebhookInput, defaultExpiringDays: readonly number[]): ValidWebhookInput {
  let url: URL;
  try {
    url = new URL(input.url);
  } catch {
    throw new WebhookInputError('url', `not an absolute URL: ${JSON.stringify(input.url)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new WebhookInputError('url', `must be https (got ${url.protocol.replace(':', '')})`);
  if (url.protocol === 'http:' && !LOOPBACK.test(url.hostname) && !input.allowHttp) {
    throw new WebhookInputError('url', 'http is allowed only to 127.0.0.1, ::1 or localhost; use https (or allow plain http explicitly)');
  }
  if (url.username || url.password) throw new WebhookInputError('url', 'must not carry credentials; the signature authenticates the delivery');
  url.hash = '';
  const unknown = input.events.filter((e) => !(WEBHOOK_EVENT_TYPES as readonly string[]).includes(e));
  if (unknown.length) throw new WebhookInputError('events', `unknown event ${unknown.join(', ')} (known: ${WEBHOOK_EVENT_TYPES.join(', ')})`);
  if (input.events.length === 0) throw new WebhookInputError('events', `name at least one of ${WEBHOOK_EVENT_TYPES.join(', ')}`);
  const days = [...new Set(input.expiringDays ?? defaultExpiringDays)].sort((a, b) => b - a);
  if (days.length === 0 || days.length > 10 || days.some((d) => !Number.isInteger(d) || d < 1 || d > 365)) {
    throw new WebhookInputError('expiringDays', 'expected 1 to 10 whole numbers of days from 1 to 365');
  }
  const description = (input.description ?? '').trim();
  if (description.length > 200) throw new WebhookInputError('description', 'at most 200 characters');
  return { url: url.toString(), events: WEBHOOK_EVENT_TYPES.filter((e) => input.events.includes(e)), expiringDays: days, description };
}
