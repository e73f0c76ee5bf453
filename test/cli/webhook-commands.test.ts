/**
 * `estuary webhook …` as users run it (dist/cli/main.js): add prints the secret once and stores
 * it sealed (never in the database), URLs are checked, test sends a signed event to a real local
 * receiver, deliveries and redeliver work on what the store queued, every change is audited.
 */
import { createServer, type Server } from 'node:http';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/cli/config.js';
import { verifySignature } from '../../src/notify/webhook-signature.js';
import { validateWebhookInput } from '../../src/notify/webhook-input.js';
import { openStore } from '../../src/store/open-store.js';
import { estuary } from '../helpers/cli.js';
import { makeHome, sqlitePath, type TestHome } from '../helpers/home.js';

let home: TestHome;
let receiver: Server;
let base: string;
const got: Array<{ path: string; signature: string; body: string }> = [];

beforeAll(async () => {
  home = await makeHome();
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ path: req.url ?? '', signature: String(req.headers['estuary-signature']), body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(req.url === '/broken' ? 500 : 200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
}, 60_000);

afterAll(async () => {
  await new Promise((r) => receiver?.close(r));
});

const run = (args: string[]) => estuary(['webhook', ...args, '--home', home.home]);

describe('estuary webhook', () => {
  let id: number;
  let secret: string;

  it('adds an endpoint, printing the secret once; the database holds it sealed under a 0600 key file', async () => {
    const added = await run(['add', `${base}/hook`, '--events', 'cert.issued,cert.expiring', '--expiring-days', '14,60', '--description', 'ops', '--json']);
    expect(added.code, added.stderr).toBe(0);
    const out = JSON.parse(added.stdout) as { endpoint: { id: number; events: string[]; expiringDays: number[] }; secret: string };
    ({ secret } = out);
    id = out.endpoint.id;
    expect(out.endpoint).toMatchObject({ events: ['cert.issued', 'cert.expiring'], expiringDays: [60, 14] });
    expect(statSync(join(home.home, 'webhooks.key')).mode & 0o777).toBe(0o600);
    const db = readFileSync(sqlitePath(loadConfig(home.home)));
    expect(db.includes(Buffer.from(secret))).toBe(false);
    expect(db.includes(Buffer.from(secret.slice(6)))).toBe(false);
    const listed = await run(['list']);
    expect(listed.stdout).toContain(`${base}/hook`);
    expect(listed.stdout).not.toContain(secret);
  });

  it('refuses plain http to another host unless allowed, unknown events and bad thresholds, naming the field', async () => {
    const plain = await run(['add', 'http://hooks.example.com/x', '--events', 'cert.issued']);
    expect(plain.code).toBe(2);
    expect(plain.stderr).toMatch(/^estuary: url: http is allowed only to 127\.0\.0\.1/);
    expect((await run(['add', 'http://hooks.example.com/x', '--events', 'cert.issued', '--allow-http'])).code).toBe(0);
    // the same check in process (the CLI, the API and the Web RA share it)
    const check = (url: string, events: string[], expiringDays?: number[]) => () => validateWebhookInput({ url, events, expiringDays }, [30]);
    expect(check('ftp://x/', ['cert.issued'])).toThrow(/^url: must be https/);
    expect(check('https://user:pw@x/', ['cert.issued'])).toThrow(/^url: must not carry credentials/);
    expect(check(`${base}/x`, ['cert.renewed'])).toThrow(/^events: unknown event cert.renewed/);
    expect(check(`${base}/x`, [])).toThrow(/^events: name at least one/);
    expect(check(`${base}/x`, ['cert.expiring'], [0])).toThrow(/^expiringDays: /);
    expect(check('http://[::1]:9/x', ['cert.expiring'])()).toMatchObject({ url: 'http://[::1]:9/x', expiringDays: [30] });
  });

  it('test sends a signed webhook.test event now: exit 0 on 2xx, 3 otherwise', async () => {
    const ok = await run(['test', String(id)]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('HTTP 200');
    const sent = got.find((g) => g.path === '/hook')!;
    expect(JSON.parse(sent.body)).toMatchObject({ type: 'webhook.test', data: { endpointId: id } });
    expect(verifySignature(secret, sent.signature, sent.body, new Date())).toBe(true);
    const broken = JSON.parse((await run(['add', `${base}/broken`, '--events', 'cert.revoked', '--json'])).stdout) as { endpoint: { id: number } };
    const failed = await run(['test', String(broken.endpoint.id)]);
    expect(failed.code).toBe(3);
    expect(failed.stderr).toContain('HTTP 500');
  });

  it('lists the deliveries the store queued, redelivers one, removes an endpoint; each change audited', async () => {
    const store = await openStore(loadConfig(home.home).database);
    try {
      await store.recordIssuance({
        serial: 'c1109e', profile: 'default', ca: 'default', subject: 'CN=cli', sans: [], notBefore: new Date(), notAfter: new Date(Date.now() + 86_400_000),
        der: Buffer.from([0x30, 0x00]), requester: 'est@test', renews: null,
      }, { actor: 'test', action: 'simpleenroll', profile: 'default', outcome: 'success', serial: 'c1109e', detail: null });
    } finally {
      await store.close();
    }
    const listed = JSON.parse((await run(['deliveries', '--webhook', String(id), '--json'])).stdout) as Array<{ id: number; eventType: string; status: string; data: { serial: string } }>;
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ eventType: 'cert.issued', status: 'pending', data: { serial: 'c1109e' } });
    const again = await run(['redeliver', String(listed[0]!.id)]);
    expect(again.code, again.stderr).toBe(0);
    expect((await run(['remove', String(id)])).code).toBe(0);
    expect((await run(['remove', String(id)])).stderr).toContain(`no webhook ${id}`);
    const audit = await openStore(loadConfig(home.home).database);
    try {
      const actions = (await audit.listAudit({ limit: 50 })).map((e) => e.action);
      expect(actions.filter((a) => a.startsWith('webhook.')).sort()).toEqual(['webhook.add', 'webhook.add', 'webhook.add', 'webhook.redeliver', 'webhook.remove']);
    } finally {
      await audit.close();
    }
  });
});
