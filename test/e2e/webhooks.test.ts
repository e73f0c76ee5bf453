/**
 * Webhooks end to end: the real server (EST over TLS, SQLite file) delivers to a real HTTPS
 * receiver in this test, trusted through webhooks.trustAnchors. Signature, retry after a 500,
 * giving up after maxAttempts, an expiring certificate announced once, and an event queued while
 * the server was down (by another process's store, as the CLI does) delivered after the restart.
 */
import { execFileSync } from 'node:child_process';
import { createHmac, X509Certificate } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/cli/config.js';
import { createWebhookService, type WebhookService } from '../../src/notify/webhook-service.js';
import { verifySignature } from '../../src/notify/webhook-signature.js';
import { openStore } from '../../src/store/open-store.js';
import type { WebhookEventType } from '../../src/store/webhook-types.js';
import { certsFrom, csrBody, estRequest } from '../helpers/est-http.js';
import { makeHome, startServer, type TestHome, type TestServer } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';

interface Received { path: string; headers: Record<string, string | string[] | undefined>; body: string; at: number }

let home: TestHome;
let server: TestServer;
let hooks: WebhookService;
let receiver: Server;
let receiverUrl: string;
const received: Received[] = [];
const flakyCount = new Map<string, number>();

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const on = (path: string) => received.filter((r) => r.path === path);

async function enroll(name: string): Promise<string> {
  const csr = await makeCsr({ name: `CN=${name}`, dns: [`${name}.example`] });
  const basic = { user: home.summary.estAccount.email, password: home.summary.estAccount.password };
  const res = await estRequest(`${server.base}/simpleenroll`, { ca: home.rootPem, basic, body: csrBody(csr.der), contentType: 'application/pkcs10' });
  expect(res.status).toBe(200);
  return new X509Certificate(certsFrom(res)[0]!).serialNumber.toLowerCase(); // the store's form
}

async function add(path: string, events: WebhookEventType[], expiringDays?: number[]) {
  return hooks.add({ url: `${receiverUrl}${path}`, events, ...(expiringDays ? { expiringDays } : {}), description: path }, 'admin@test');
}

function serviceOf(s: TestServer): WebhookService {
  return createWebhookService({ store: s.runtime.store, config: s.runtime.config.webhooks });
}

beforeAll(async () => {
  home = await makeHome();
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'receiver-key.pem', '-out', 'receiver.pem',
    '-subj', '/CN=webhook receiver', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1'], { cwd: home.home, stdio: 'ignore' });
  appendFileSync(join(home.home, 'estuary.yaml'), `
webhooks:
  maxAttempts: 3
  timeoutSeconds: 2
  retrySeconds: 0.3
  pollSeconds: 0.1
  scanMinutes: 0.01
  trustAnchors: receiver.pem
`);
  receiver = createServer({ key: readFileSync(join(home.home, 'receiver-key.pem')), cert: readFileSync(join(home.home, 'receiver.pem')) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '';
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      const n = (flakyCount.get(path) ?? 0) + 1;
      flakyCount.set(path, n);
      if (path === '/flaky') res.writeHead(n === 1 ? 500 : 200).end('ok');
      else if (path === '/down') res.writeHead(503).end('maintenance');
      else res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `https://127.0.0.1:${(receiver.address() as { port: number }).port}`;
  server = await startServer(home);
  hooks = serviceOf(server);
}, 60_000);

afterAll(async () => {
  await server?.runtime.close(100);
  await new Promise((r) => receiver?.close(r));
});

describe('webhooks delivered by the running server', () => {
  let secret: string;

  it('delivers cert.issued for an EST enrollment, signed with HMAC-SHA256 over "t.body"', async () => {
    const created = await add('/ok', ['cert.issued', 'cert.revoked']);
    secret = created.secret;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(created.endpoint.sealedSecret).not.toContain(secret.slice(6));
    const serial = await enroll('hooked-1');
    const got = await waitFor('the delivery', () => on('/ok').find((r) => r.body.includes(serial)));
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['estuary-event-type']).toBe('cert.issued');
    expect(got.headers['estuary-delivery-attempt']).toBe('1');
    const body = JSON.parse(got.body) as { id: string; type: string; time: string; data: Record<string, unknown> };
    expect(body).toMatchObject({ id: got.headers['estuary-event-id'], type: 'cert.issued', data: { serial, subject: 'CN=hooked-1', sans: ['DNS:hooked-1.example'], profile: 'default' } });
    expect(Date.parse(body.time)).toBeGreaterThan(Date.now() - 60_000);
    // The receiver's check, written out: t=<seconds>,v1=hex(HMAC-SHA256(secret, `${t}.${body}`))
    const header = got.headers['estuary-signature'] as string;
    const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header)!;
    expect(m).not.toBeNull();
    expect(createHmac('sha256', secret).update(`${m[1]}.${got.body}`).digest('hex')).toBe(m[2]);
    expect(Math.abs(Number(m[1]) - got.at / 1000)).toBeLessThan(30);
    expect(verifySignature(secret, header, got.body, new Date())).toBe(true);
    expect(verifySignature(secret, header, got.body.replace('hooked-1', 'hooked-2'), new Date())).toBe(false);
    expect(verifySignature('whsec_other', header, got.body, new Date())).toBe(false);
    const { items } = await server.runtime.store.listWebhookDeliveries({ endpointId: created.endpoint.id });
    await waitFor('the delivery recorded', async () => ((await server.runtime.store.getWebhookDelivery(items[0]!.id))?.status === 'delivered' ? true : undefined));
    expect(await server.runtime.store.getWebhookDelivery(items[0]!.id)).toMatchObject({ status: 'delivered', attempts: 1, responseCode: 204, lastError: null });
  });

  it('retries after a 500 with the same event and body, then succeeds', async () => {
    const created = await add('/flaky', ['cert.issued']);
    const serial = await enroll('hooked-2');
    const [first, second] = await waitFor('two attempts', () => (on('/flaky').length >= 2 ? on('/flaky') : undefined));
    expect(first!.body).toContain(serial);
    expect(second!.body).toBe(first!.body);
    expect(second!.headers['estuary-event-id']).toBe(first!.headers['estuary-event-id']);
    expect([first!.headers['estuary-delivery-attempt'], second!.headers['estuary-delivery-attempt']]).toEqual(['1', '2']);
    // retrySeconds 0.3 from the start of the first attempt (its connection and handshake came before the receiver saw it)
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(150);
    const d = await waitFor('delivered', async () => {
      const [x] = (await server.runtime.store.listWebhookDeliveries({ endpointId: created.endpoint.id })).items;
      return x?.status === 'delivered' ? x : undefined;
    });
    expect(d).toMatchObject({ attempts: 2, responseCode: 200, lastError: null });
  });

  it('gives up after maxAttempts (3), recording the last answer', async () => {
    const created = await add('/down', ['cert.revoked']);
    const serial = await enroll('hooked-3');
    expect(await server.runtime.store.revokeCertificate(serial, 'keyCompromise', new Date())).toBe(true);
    const d = await waitFor('failed', async () => {
      const [x] = (await server.runtime.store.listWebhookDeliveries({ endpointId: created.endpoint.id })).items;
      return x?.status === 'failed' ? x : undefined;
    });
    expect(d).toMatchObject({ attempts: 3, responseCode: 503, lastError: 'HTTP 503' });
    expect(on('/down')).toHaveLength(3);
    expect(JSON.parse(on('/down')[0]!.body)).toMatchObject({ type: 'cert.revoked', data: { serial, reason: 'keyCompromise' } });
    // the /ok endpoint subscribed to cert.revoked too, and got it once
    await waitFor('revoked on /ok', () => on('/ok').find((r) => r.body.includes('"cert.revoked"') && r.body.includes(serial)));
  });

  it('announces a certificate expiring within the threshold once', async () => {
    await add('/expiring', ['cert.expiring'], [30]);
    const soon = new Date(Date.now() + 10 * 86_400_000);
    await server.runtime.store.recordIssuance({
      serial: '7e57e7e57e57', profile: 'default', ca: 'default', subject: 'CN=short-lived', sans: [], notBefore: new Date(), notAfter: soon,
      der: Buffer.from([0x30, 0x00]), requester: 'est@test', renews: null,
    }, { actor: 'test', action: 'simpleenroll', profile: 'default', outcome: 'success', serial: '7e57e7e57e57', detail: null });
    const got = await waitFor('cert.expiring', () => on('/expiring').find((r) => r.body.includes('7e57e7e57e57')));
    expect(JSON.parse(got.body)).toMatchObject({ type: 'cert.expiring', data: { serial: '7e57e7e57e57', days: 30, notAfter: soon.toISOString(), subject: 'CN=short-lived' } });
    await new Promise((r) => setTimeout(r, 2000)); // several scans (scanMinutes 0.01) later
    expect(on('/expiring').filter((r) => r.body.includes('7e57e7e57e57'))).toHaveLength(1);
  });

  it('delivers an event queued while the server was stopped once it runs again', async () => {
    await add('/restart', ['cert.revoked']);
    const serial = await enroll('hooked-4');
    await server.runtime.close(100);
    // Another process's store on the same file (as `estuary cert revoke` does): the event is queued in its transaction.
    const cli = await openStore(loadConfig(home.home).database);
    expect(await cli.revokeCertificate(serial, 'cessationOfOperation', new Date())).toBe(true);
    await cli.close();
    await new Promise((r) => setTimeout(r, 500));
    expect(on('/restart')).toHaveLength(0);
    server = await startServer(home);
    hooks = serviceOf(server);
    const got = await waitFor('the queued event', () => on('/restart')[0]);
    expect(JSON.parse(got.body)).toMatchObject({ type: 'cert.revoked', data: { serial, reason: 'cessationOfOperation' } });
  });
});
