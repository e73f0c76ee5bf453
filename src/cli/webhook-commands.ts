/**
 * `estuary webhook add|list|remove|test|deliveries|redeliver`: webhook endpoints and their
 * deliveries (works while the server runs; the server delivers). The same service as the Web RA
 * (src/notify/webhook-service.ts). `test` exits 0 when the endpoint answered 2xx, 3 otherwise.
 */
import { cliActor } from './cli-actor.js';
import type { Command } from 'commander';
import { createWebhookService } from '../notify/webhook-service.js';
import { WEBHOOK_EVENT_TYPES, type WebhookDelivery, type WebhookDeliveryStatus, type WebhookEndpoint } from '../store/webhook-types.js';
import { CliError, print, printJson, printTable, splitList, withStore, type HomeOption } from './context.js';

const STATUSES: readonly WebhookDeliveryStatus[] = ['pending', 'delivered', 'failed'];

function idOf(text: string, what: string): number {
  const id = Number(text);
  if (!Number.isSafeInteger(id) || id < 1) throw new CliError(`"${text}" is not a ${what} id`);
  return id;
}

const endpointView = (e: WebhookEndpoint) => ({
  id: e.id, url: e.url, events: e.events, expiringDays: e.expiringDays, description: e.description, createdBy: e.createdBy, createdAt: e.createdAt.toISOString(),
});
const deliveryView = (d: WebhookDelivery) => ({
  id: d.id, endpointId: d.endpointId, url: d.url, eventId: `evt_${d.event.id}`, eventType: d.event.type, occurredAt: d.event.occurredAt.toISOString(),
  status: d.status, attempts: d.attempts, nextAttemptAt: d.nextAttemptAt.toISOString(), lastAttemptAt: d.lastAttemptAt?.toISOString() ?? null,
  responseCode: d.responseCode, lastError: d.lastError, data: JSON.parse(d.event.data) as unknown,
});

export function registerWebhookCommands(program: Command): void {
  const webhook = program.command('webhook').description('webhook endpoints notified of held requests, issued, revoked and expiring certificates');

  webhook
    .command('add <url>')
    .description('add an endpoint; prints its signing secret once')
    .requiredOption('--events <list>', `comma-separated: ${WEBHOOK_EVENT_TYPES.join(', ')}`)
    .option('--expiring-days <list>', 'cert.expiring thresholds in days, e.g. 30,7 (default: webhooks.expiringDays)')
    .option('--description <text>', 'a note shown in lists')
    .option('--allow-http', 'allow plain http to a host other than 127.0.0.1, ::1 or localhost')
    .option('--json', 'print JSON')
    .option('--home <dir>', 'data directory')
    .action(async (url: string, opts: HomeOption & { events: string; expiringDays?: string; description?: string; allowHttp?: boolean; json?: boolean }) => {
      const days = opts.expiringDays === undefined ? undefined : splitList(opts.expiringDays).map(Number);
      await withStore(opts, async (store, config) => {
        const { endpoint, secret } = await createWebhookService({ store, config: config.webhooks })
          .add({ url, events: splitList(opts.events), expiringDays: days, description: opts.description, allowHttp: opts.allowHttp }, cliActor());
        if (opts.json) return printJson({ endpoint: endpointView(endpoint), secret });
        print(`webhook ${endpoint.id}: ${endpoint.url}`);
        print(`events: ${endpoint.events.join(', ')}${endpoint.events.includes('cert.expiring') ? ` (expiring within ${endpoint.expiringDays.join(', ')} days)` : ''}`);
        print(`secret: ${secret}`);
        print('The secret is shown only now: give it to the receiver, which checks the Estuary-Signature header with it.');
      });
    });

  webhook
    .command('list')
    .description('list endpoints (never their secrets)')
    .option('--json', 'print JSON')
    .option('--home <dir>', 'data directory')
    .action(async (opts: HomeOption & { json?: boolean }) => {
      await withStore(opts, async (store) => {
        const list = await store.listWebhookEndpoints();
        if (opts.json) return printJson(list.map(endpointView));
        printTable(['ID', 'URL', 'EVENTS', 'EXPIRING DAYS', 'DESCRIPTION'], list.map((e) => [String(e.id), e.url, e.events.join(','), e.expiringDays.join(','), e.description]));
      });
    });

  webhook
    .command('remove <id>')
    .description('remove an endpoint and its deliveries')
    .option('--home <dir>', 'data directory')
    .action(async (id: string, opts: HomeOption) => {
      const n = idOf(id, 'webhook');
      await withStore(opts, async (store, config) => {
        if (!(await createWebhookService({ store, config: config.webhooks }).remove(n, cliActor()))) throw new CliError(`no webhook ${id}`);
        print(`webhook ${n} removed`);
      });
    });

  webhook
    .command('test <id>')
    .description('send a signed webhook.test event now and print the answer (exit 3 unless 2xx)')
    .option('--home <dir>', 'data directory')
    .action(async (id: string, opts: HomeOption) => {
      const n = idOf(id, 'webhook');
      await withStore(opts, async (store, config) => {
        const result = await createWebhookService({ store, config: config.webhooks }).test(n);
        if (!result) throw new CliError(`no webhook ${id}`);
        if (!result.ok) throw new CliError(`webhook ${n}: ${result.error ?? 'failed'}`, 3);
        print(`webhook ${n}: HTTP ${result.responseCode}`);
      });
    });

  webhook
    .command('deliveries')
    .description('list deliveries, newest first')
    .option('--webhook <id>', 'only this endpoint')
    .option('--status <status>', STATUSES.join(', '))
    .option('--limit <n>', 'at most this many', '50')
    .option('--json', 'print JSON')
    .option('--home <dir>', 'data directory')
    .action(async (opts: HomeOption & { webhook?: string; status?: string; limit: string; json?: boolean }) => {
      if (opts.status && !(STATUSES as readonly string[]).includes(opts.status)) throw new CliError(`--status: expected ${STATUSES.join(', ')}`);
      const limit = idOf(opts.limit, 'limit');
      await withStore(opts, async (store) => {
        const { items } = await store.listWebhookDeliveries({
          ...(opts.webhook ? { endpointId: idOf(opts.webhook, 'webhook') } : {}), ...(opts.status ? { status: opts.status as WebhookDeliveryStatus } : {}), limit,
        });
        if (opts.json) return printJson(items.map(deliveryView));
        printTable(['ID', 'WEBHOOK', 'EVENT', 'TYPE', 'STATUS', 'ATTEMPTS', 'CODE', 'LAST ERROR'],
          items.map((d) => [String(d.id), String(d.endpointId), `evt_${d.event.id}`, d.event.type, d.status, String(d.attempts), String(d.responseCode ?? '-'), d.lastError ?? '-']));
      });
    });

  webhook
    .command('redeliver <delivery-id>')
    .description('send a delivery again (same event), from its first attempt; the server delivers it')
    .option('--home <dir>', 'data directory')
    .action(async (id: string, opts: HomeOption) => {
      const n = idOf(id, 'delivery');
      await withStore(opts, async (store, config) => {
        const outcome = await createWebhookService({ store, config: config.webhooks }).redeliver(n, cliActor());
        if (outcome === 'not-found') throw new CliError(`no delivery ${id}`);
        if (outcome === 'busy') throw new CliError(`delivery ${n} is being attempted right now; try again in a moment`);
        print(`delivery ${n} queued again`);
      });
    });
}
