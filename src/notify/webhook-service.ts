/**
 * What the Web RA, its API and the CLI do with webhooks, in one place: add an endpoint (checked
 * input, a generated secret shown once and stored sealed), remove it, send it a test event now,
 * redeliver a delivery. Every change is an audit event (webhook.add, webhook.remove,
 * webhook.redeliver).
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Store } from '../store/store.js';
import type { WebhookEndpoint } from '../store/webhook-types.js';
import type { WebhookConfig } from './webhook-config.js';
import { WebhookDispatcher } from './webhook-dispatcher.js';
import { validateWebhookInput, type WebhookInput } from './webhook-input.js';
import { generateSecret, loadSecretBox, type SecretBox } from './webhook-secrets.js';
import { sendWebhook, type AttemptResult } from './webhook-sender.js';

export interface WebhookService {
  /** The new endpoint and its secret, which is never shown again. WebhookInputError on bad input. */
  add(input: WebhookInput, actor: string): Promise<{ endpoint: WebhookEndpoint; secret: string }>;
  /** False when no such endpoint exists. */
  remove(id: number, actor: string): Promise<boolean>;
  /** One signed `webhook.test` event to the endpoint now (not queued, not retried); undefined: no such endpoint. */
  test(id: number): Promise<AttemptResult | undefined>;
  /** `not-found`, `busy` (being attempted now) or `queued`. */
  redeliver(id: number, actor: string): Promise<'queued' | 'not-found' | 'busy'>;
  /** The delivery loop of this process. */
  readonly dispatcher: WebhookDispatcher;
}

export interface WebhookServiceOptions {
  store: Store;
  config: WebhookConfig;
  now?: () => Date;
  logger?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
}

export function createWebhookService(o: WebhookServiceOptions): WebhookService {
  const now = o.now ?? (() => new Date());
  let box: SecretBox | undefined;
  // The key file is made when the first endpoint is added; until then nothing needs it.
  const secrets = (create: boolean): SecretBox => (box ??= loadSecretBox(o.config.secretKeyFile, create));
  const lazyBox: SecretBox = { seal: (s) => secrets(true).seal(s), open: (s) => secrets(false).open(s) };
  const s = o.config.settings;
  const dispatcher = new WebhookDispatcher({
    store: o.store, box: lazyBox, settings: s, holder: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`, now, ...(o.logger ? { logger: o.logger } : {}),
  });
  return {
    dispatcher,
    async add(input, actor) {
      const valid = validateWebhookInput(input, s.expiringDays);
      const secret = generateSecret();
      const endpoint = await o.store.createWebhookEndpoint({ ...valid, sealedSecret: lazyBox.seal(secret), createdBy: actor, createdAt: now() });
      await o.store.appendAudit({
        actor, action: 'webhook.add', profile: null, outcome: 'success', serial: null,
        detail: `${endpoint.id}: ${endpoint.url} (${endpoint.events.join(', ')})`,
      });
      return { endpoint, secret };
    },
    async remove(id, actor) {
      const endpoint = await o.store.getWebhookEndpoint(id);
      if (!endpoint || !(await o.store.deleteWebhookEndpoint(id))) return false;
      await o.store.appendAudit({ actor, action: 'webhook.remove', profile: null, outcome: 'success', serial: null, detail: `${id}: ${endpoint.url}` });
      return true;
    },
    async test(id) {
      const endpoint = await o.store.getWebhookEndpoint(id);
      if (!endpoint) return undefined;
      const at = now();
      const data = JSON.stringify({ endpointId: endpoint.id, url: endpoint.url, events: endpoint.events });
      let secret: string;
      try {
        secret = lazyBox.open(endpoint.sealedSecret);
      } catch (err) {
        return { ok: false, responseCode: null, error: (err as Error).message }; // e.g. another home's webhooks.key
      }
      return sendWebhook(endpoint.url, secret, { eventId: `evt_test_${randomUUID()}`, type: 'webhook.test', occurredAt: at, data },
        { timeoutMs: s.timeoutMs, ca: s.ca, attempt: 1, now: at });
    },
    async redeliver(id, actor) {
      const delivery = await o.store.getWebhookDelivery(id);
      if (!delivery) return 'not-found';
      if (!(await o.store.redeliverWebhook(id, now()))) return 'busy';
      await o.store.appendAudit({
        actor, action: 'webhook.redeliver', profile: null, outcome: 'success', serial: null,
        detail: `delivery ${id}: evt_${delivery.event.id} (${delivery.event.type}) to ${delivery.url}`,
      });
      return 'queued';
    },
  };
}
