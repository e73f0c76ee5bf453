/**
 * Webhooks in the Web RA API: endpoints (admins add and remove them; the secret is in the answer
 * to the add, once), a test event, the deliveries with their status, and redelivery. The same
 * service as `estuary webhook …` (src/notify/webhook-service.ts).
 */
import { WEBHOOK_EVENT_TYPES, type WebhookDelivery, type WebhookDeliveryStatus, type WebhookEndpoint } from '../store/webhook-types.js';
import type { WebhookService } from '../notify/webhook-service.js';
import { problem, ProblemError } from './problem.js';
import { ADMIN_ONLY, ANY_ROLE, type AdminContext, type ApiRoute } from './route.js';
import { idParams, named, pageOf, problemResponses } from './schemas.js';

const str = (extra: object = {}) => ({ type: 'string', ...extra });
const int = (min: number, max: number, extra: object = {}) => ({ type: 'integer', minimum: min, maximum: max, ...extra });
const obj = (properties: Record<string, object>, required: string[] = []) => ({ type: 'object', additionalProperties: false, properties, ...(required.length ? { required } : {}) });
const dateTime = { type: 'string', format: 'date-time' };
const nullable = (schema: object) => ({ anyOf: [schema, { type: 'null' }] });
const eventType = { enum: [...WEBHOOK_EVENT_TYPES] };

export const WebhookEndpointSchema = named('WebhookEndpoint', obj({
  id: { type: 'integer' }, url: str(), events: { type: 'array', items: eventType }, expiringDays: { type: 'array', items: { type: 'integer' } },
  description: str(), createdBy: str(), createdAt: dateTime,
}, ['id', 'url', 'events', 'expiringDays', 'description', 'createdBy', 'createdAt']));
export const NewWebhookEndpointSchema = named('NewWebhookEndpoint', obj({
  url: str({ minLength: 1, maxLength: 2000, description: 'https, or http to 127.0.0.1/::1/localhost unless allowHttp' }),
  events: { type: 'array', minItems: 1, maxItems: WEBHOOK_EVENT_TYPES.length, uniqueItems: true, items: eventType },
  expiringDays: { type: 'array', minItems: 1, maxItems: 10, items: int(1, 365), description: 'cert.expiring thresholds (default: webhooks.expiringDays)' },
  description: str({ maxLength: 200 }),
  allowHttp: { type: 'boolean', description: 'allow plain http to another host' },
}, ['url', 'events']));
const CreatedWebhook = named('CreatedWebhook', obj({
  endpoint: WebhookEndpointSchema, secret: str({ description: 'the signing secret: shown this once, keep it with the receiver' }),
}, ['endpoint', 'secret']));
const WebhookTestResult = named('WebhookTestResult', obj({ ok: { type: 'boolean' }, responseCode: nullable({ type: 'integer' }), error: nullable(str()) }, ['ok', 'responseCode', 'error']));
export const WebhookDeliverySchema = named('WebhookDelivery', obj({
  id: { type: 'integer' }, endpointId: { type: 'integer' }, url: str(), eventId: str(), eventType: str(), occurredAt: dateTime,
  data: { type: 'object', description: 'the event details as sent' },
  status: { enum: ['pending', 'delivered', 'failed'] }, attempts: { type: 'integer' }, nextAttemptAt: dateTime, lastAttemptAt: nullable(dateTime),
  lastError: nullable(str()), responseCode: nullable({ type: 'integer' }), createdAt: dateTime,
}, ['id', 'endpointId', 'url', 'eventId', 'eventType', 'occurredAt', 'data', 'status', 'attempts', 'nextAttemptAt', 'lastAttemptAt', 'lastError', 'responseCode', 'createdAt']));
const deliveryQuery = obj({
  endpoint: int(1, Number.MAX_SAFE_INTEGER), status: { enum: ['pending', 'delivered', 'failed'] }, offset: int(0, 1_000_000, { default: 0 }), limit: int(1, 500, { default: 50 }),
});

const endpointView = (e: WebhookEndpoint) => ({
  id: e.id, url: e.url, events: e.events, expiringDays: e.expiringDays, description: e.description, createdBy: e.createdBy, createdAt: e.createdAt.toISOString(),
});
const deliveryView = (d: WebhookDelivery) => ({
  id: d.id, endpointId: d.endpointId, url: d.url, eventId: `evt_${d.event.id}`, eventType: d.event.type, occurredAt: d.event.occurredAt.toISOString(),
  data: JSON.parse(d.event.data) as object, status: d.status, attempts: d.attempts, nextAttemptAt: d.nextAttemptAt.toISOString(),
  lastAttemptAt: d.lastAttemptAt?.toISOString() ?? null, lastError: d.lastError, responseCode: d.responseCode, createdAt: d.createdAt.toISOString(),
});

function service(ctx: AdminContext): WebhookService {
  if (!ctx.webhooks) throw new ProblemError('not-implemented', 'this server does not deliver webhooks');
  return ctx.webhooks;
}

const listEndpoints: ApiRoute = {
  method: 'GET', url: '/api/webhooks', operationId: 'listWebhooks', tag: 'webhooks', summary: 'Webhook endpoints (never their secrets)',
  access: ANY_ROLE, schema: {}, responses: { 200: { description: 'the endpoints', schema: obj({ items: { type: 'array', items: WebhookEndpointSchema } }, ['items']) }, ...problemResponses(401) },
  async handler(_call, ctx) {
    return { items: (await ctx.store.listWebhookEndpoints()).map(endpointView) };
  },
};

const addEndpoint: ApiRoute<unknown, unknown, { url: string; events: string[]; expiringDays?: number[]; description?: string; allowHttp?: boolean }> = {
  method: 'POST', url: '/api/webhooks', operationId: 'addWebhook', tag: 'webhooks', summary: 'Add a webhook endpoint; the answer holds its signing secret, shown once',
  access: ADMIN_ONLY, schema: { body: NewWebhookEndpointSchema },
  responses: { 201: { description: 'added', schema: CreatedWebhook }, ...problemResponses(400, 401, 403) },
  async handler({ body, actor, reply }, ctx) {
    const { endpoint, secret } = await service(ctx).add(body, actor);
    reply.code(201);
    return { endpoint: endpointView(endpoint), secret };
  },
};

const removeEndpoint: ApiRoute<{ id: number }> = {
  method: 'DELETE', url: '/api/webhooks/:id', operationId: 'removeWebhook', tag: 'webhooks', summary: 'Remove a webhook endpoint and its deliveries',
  access: ADMIN_ONLY, schema: { params: idParams }, responses: { 204: { description: 'removed' }, ...problemResponses(400, 401, 403, 404) },
  async handler({ params, actor, reply }, ctx) {
    if (!(await service(ctx).remove(params.id, actor))) throw problem.notFound(`no webhook endpoint ${params.id}`);
    return reply.code(204).send();
  },
};

const testEndpoint: ApiRoute<{ id: number }> = {
  method: 'POST', url: '/api/webhooks/:id/test', operationId: 'testWebhook', tag: 'webhooks', summary: 'Send a signed webhook.test event to the endpoint now and say how it answered',
  access: ADMIN_ONLY, schema: { params: idParams }, responses: { 200: { description: 'the attempt', schema: WebhookTestResult }, ...problemResponses(400, 401, 403, 404) },
  async handler({ params }, ctx) {
    const result = await service(ctx).test(params.id);
    if (!result) throw problem.notFound(`no webhook endpoint ${params.id}`);
    return result;
  },
};

const listDeliveries: ApiRoute<unknown, { endpoint?: number; status?: WebhookDeliveryStatus; offset: number; limit: number }> = {
  method: 'GET', url: '/api/webhook-deliveries', operationId: 'listWebhookDeliveries', tag: 'webhooks', summary: 'Webhook deliveries, newest first',
  access: ANY_ROLE, schema: { querystring: deliveryQuery }, responses: { 200: { description: 'a page of deliveries', schema: pageOf(WebhookDeliverySchema) }, ...problemResponses(400, 401) },
  async handler({ query }, ctx) {
    const { items, total } = await ctx.store.listWebhookDeliveries({
      ...(query.endpoint !== undefined ? { endpointId: query.endpoint } : {}), ...(query.status ? { status: query.status } : {}), offset: query.offset, limit: query.limit,
    });
    return { items: items.map(deliveryView), total, offset: query.offset, limit: query.limit };
  },
};

const redeliver: ApiRoute<{ id: number }> = {
  method: 'POST', url: '/api/webhook-deliveries/:id/redeliver', operationId: 'redeliverWebhook', tag: 'webhooks',
  summary: 'Send a delivery again (same event id and body), from its first attempt, now',
  access: ADMIN_ONLY, schema: { params: idParams }, responses: { 200: { description: 'queued', schema: WebhookDeliverySchema }, ...problemResponses(400, 401, 403, 404, 409) },
  async handler({ params, actor }, ctx) {
    const outcome = await service(ctx).redeliver(params.id, actor);
    if (outcome === 'not-found') throw problem.notFound(`no webhook delivery ${params.id}`);
    if (outcome === 'busy') throw problem.conflict(`delivery ${params.id} is being attempted right now; try again in a moment`);
    return deliveryView((await ctx.store.getWebhookDelivery(params.id))!);
  },
};

export const webhookRoutes: ApiRoute[] = [listEndpoints, addEndpoint, removeEndpoint, testEndpoint, listDeliveries, redeliver];
