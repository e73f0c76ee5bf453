/**
 * Several instances deliver from one database: two stores (as two instances) with a dispatcher
 * each, on SQLite (one file) and on PostgreSQL (one database), racing for the same queued
 * deliveries. The real local receiver gets every event exactly once, and every delivery is
 * recorded delivered.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_WEBHOOK_SETTINGS, WebhookDispatcher } from '../../src/notify/webhook-dispatcher.js';
import { generateSecret, secretBox } from '../../src/notify/webhook-secrets.js';
import { openPostgresStore } from '../../src/store/postgres-store.js';
import { openSqliteStore } from '../../src/store/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

const EVENTS = 40;
let receiver: Server;
let url: string;
const received: string[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received.push(String(req.headers['estuary-event-id']));
      setTimeout(() => res.writeHead(204).end(), 5); // a receiver that takes a moment: the instances overlap
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
});
afterAll(async () => {
  await new Promise((r) => receiver?.close(r));
});

async function race(stores: [Store, Store], path: string): Promise<void> {
  const box = secretBox(randomBytes(32));
  await stores[0].createWebhookEndpoint({
    url: `${url}${path}`, events: ['cert.issued'], expiringDays: [30], sealedSecret: box.seal(generateSecret()), description: path, createdBy: 'test', createdAt: new Date(),
  });
  await Promise.all(Array.from({ length: EVENTS }, (_, i) => stores[i % 2]!.recordIssuance({
    serial: randomBytes(12).toString('hex'), profile: 'default', ca: 'default', subject: `CN=${path}-${i}`, sans: [], notBefore: new Date(),
    notAfter: new Date(Date.now() + 90 * 86_400_000), der: Buffer.from([0x30, 0x00]), requester: 'test', renews: null,
  }, { actor: 'test', action: 'simpleenroll', profile: 'default', outcome: 'success', serial: null, detail: null })));
  const before = received.length;
  const settings = { ...DEFAULT_WEBHOOK_SETTINGS, pollMs: 20, batch: 4, scanMs: 3_600_000 };
  const dispatchers = stores.map((store, i) => new WebhookDispatcher({ store, box, settings, holder: `instance-${i}` }));
  for (const d of dispatchers) d.start();
  try {
    const end = Date.now() + 30_000;
    while (received.length - before < EVENTS && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300)); // a duplicate would arrive now
  } finally {
    for (const d of dispatchers) await d.stop();
  }
  const mine = received.slice(before);
  expect(mine).toHaveLength(EVENTS);
  expect(new Set(mine).size).toBe(EVENTS);
  const { items, total } = await stores[1].listWebhookDeliveries({ limit: 500 });
  expect(total).toBe(EVENTS);
  expect(items.every((d) => d.status === 'delivered' && d.attempts === 1)).toBe(true);
}

describe('two instances delivering from one database', () => {
  it('SQLite (one file, two stores): each event is delivered exactly once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'estuary-hooks-'));
    const a = openSqliteStore(join(dir, 'estuary.db'));
    const b = openSqliteStore(join(dir, 'estuary.db'));
    try {
      await race([a, b], '/sqlite');
    } finally {
      await a.close();
      await b.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('PostgreSQL (one database, two stores): each event is delivered exactly once', async () => {
    const db: TestDatabase = await createTestDatabase();
    const a = await openPostgresStore(db.url);
    const b = await openPostgresStore(db.url);
    try {
      await race([a, b], '/postgres');
    } finally {
      await a.close();
      await b.close();
      await db.drop();
    }
  });
});
