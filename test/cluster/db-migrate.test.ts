/**
 * `estuary db migrate --from <home> --to postgres://...`: every table of a used SQLite database
 * copied into an empty PostgreSQL one (ids, hashes, DER, dates), counts compared; the server then
 * runs on PostgreSQL with the same accounts, certificates and revocations; a second migration
 * into the same database is refused.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintApiToken } from '../../src/admin/api-tokens-secret.js';
import { loadConfig } from '../../src/cli/config.js';
import { certificateFields } from '../../src/pki/certificate.js';
import { openPostgresStore } from '../../src/store/postgres-store.js';
import { verifyAuditChain } from '../../src/store/audit-chain.js';
import { estuary } from '../helpers/cli.js';
import { certsFrom, csrBody, estRequest } from '../helpers/est-http.js';
import { makeHome, sqlitePath, startServer, type TestHome } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

let home: TestHome;
let db: TestDatabase;
const serials: string[] = [];
let counts: Record<string, number>;
let token: ReturnType<typeof mintApiToken>;

const basic = () => ({ user: home.summary.estAccount.email, password: home.summary.estAccount.password });

beforeAll(async () => {
  home = await makeHome();
  const s = await startServer(home);
  for (let i = 0; i < 3; i++) {
    const csr = await makeCsr({ name: `CN=migrated-${i}`, dns: [`migrated-${i}.example.com`] });
    const r = await estRequest(`${s.base}/simpleenroll`, { ca: home.rootPem, basic: basic(), body: csrBody(csr.der), contentType: 'application/pkcs10' });
    expect(r.status, r.text).toBe(200);
    serials.push(certificateFields(certsFrom(r)[0]!).serialHex);
  }
  const now = new Date();
  await s.runtime.store.revokeCertificate(serials[0]!, 'keyCompromise', now, { actor: 'cli', action: 'cert.revoke', profile: 'default', outcome: 'success', serial: serials[0]!, detail: 'keyCompromise' });
  const csr = await makeCsr({ name: 'CN=held' });
  await s.runtime.store.createPendingRequest({
    profile: 'default', operation: 'simpleenroll', requester: 'est@estuary.local', keyId: 'ab'.repeat(32), csr: csr.der, subject: 'CN=held', sans: [],
    keyDescription: 'EC P-256', createdAt: now, expiresAt: new Date(now.getTime() + 3_600_000),
  });
  token = mintApiToken({ name: 'migrated-bot', role: 'auditor', expiresInDays: 30, createdBy: 'admin@estuary.local', now });
  await s.runtime.store.createApiToken(token.record);
  // a webhook endpoint (its sealed secret opens with the home's webhooks.key wherever the home goes)
  await s.runtime.store.createWebhookEndpoint({
    url: 'https://hooks.example.com/', events: ['cert.issued'], expiringDays: [30], sealedSecret: 'v1.sealed', description: 'migrated', createdBy: 'cli', createdAt: now,
  });
  await s.runtime.close();
  const sqlite = new Database(sqlitePath(loadConfig(home.home)), { readonly: true });
  counts = Object.fromEntries(['accounts', 'profiles', 'certificates', 'pending_requests', 'audit_events', 'api_tokens', 'webhook_endpoints'].map((t) => [t, (sqlite.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n]));
  sqlite.close();
  db = await createTestDatabase();
}, 180_000);

afterAll(async () => {
  await db?.drop();
});

describe('estuary db migrate', () => {
  it('copies every table and reports matching counts', async () => {
    const run = await estuary(['db', 'migrate', '--from', home.home, '--to', db.url, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as { rows: Record<string, number>; to: string };
    expect(summary.rows).toEqual(counts);
    expect(summary.to).not.toContain('@'); // never the credentials
  });

  it('keeps hashes, certificates, revocations, held requests and ids; new ids continue after the copied ones', async () => {
    const store = await openPostgresStore(db.url);
    try {
      const account = await store.getAccount(home.summary.estAccount.email);
      expect(account?.role).toBe('est');
      expect(account?.passwordHash).toMatch(/^\$?[a-z0-9]/i);
      const first = await store.getCertificate(serials[0]!);
      expect(first?.status).toBe('revoked');
      expect(first?.revocationReason).toBe('keyCompromise');
      expect(certificateFields(first!.der).serialHex).toBe(serials[0]);
      expect((await store.getCertificate(serials[1]!))?.sans).toEqual(['DNS:migrated-1.example.com']);
      expect((await store.revocationSummary('default')).count).toBe(1);
      const held = await store.listPendingRequests({});
      expect(held.map((r) => r.subject)).toEqual(['CN=held']);
      const next = await store.createPendingRequest({ ...held[0]!, keyId: 'cd'.repeat(32) });
      expect(next.id).toBeGreaterThan(held[0]!.id);
      expect((await store.listProfiles()).map((p) => p.label)).toContain('default');
      // API tokens keep working: the same hash, and new ids continue after the copied ones
      const migrated = await store.findApiToken(token.record.secretHash);
      expect(migrated).toMatchObject({ name: 'migrated-bot', role: 'auditor', expiresAt: token.record.expiresAt, revokedAt: null });
      const later = await store.createApiToken(mintApiToken({ name: 'after', role: 'admin', expiresInDays: 1, createdBy: 'test', now: new Date() }).record);
      expect(later.id).toBeGreaterThan(migrated!.id);
      expect(await store.listWebhookEndpoints()).toMatchObject([{ url: 'https://hooks.example.com/', events: ['cert.issued'], expiringDays: [30], sealedSecret: 'v1.sealed' }]);
      expect((await store.listWebhookDeliveries()).total).toBe(0); // copying the certificates queued nothing
    } finally {
      await store.close();
    }
  });

  it('serves from PostgreSQL afterwards: the same account enrolls, the revocation is on the CRL', async () => {
    const s = await startServer(home, { ESTUARY_DATABASE_URL: db.url });
    try {
      const csr = await makeCsr({ name: 'CN=after-migration' });
      const r = await estRequest(`${s.base}/simpleenroll`, { ca: home.rootPem, basic: basic(), body: csrBody(csr.der), contentType: 'application/pkcs10' });
      expect(r.status, r.text).toBe(200);
      expect(await s.runtime.store.isRevoked(serials[0]!)).toBe(true);
      const crl = Buffer.from(await (await fetch(`${s.runtime.crlBaseUrl()}/default.crl`)).arrayBuffer());
      expect(crl.includes(Buffer.from(serials[0]!, 'hex')), 'the revoked serial is on the CRL').toBe(true);
      expect(crl.includes(Buffer.from(serials[1]!, 'hex'))).toBe(false);
      // the audit chain begun on SQLite, copied with its links, verifies and goes on here
      const chain = await verifyAuditChain(s.runtime.store);
      expect(chain.broken).toBeUndefined();
      expect(chain).toMatchObject({ checked: counts.audit_events! + 1, unchained: 0 });
    } finally {
      await s.runtime.close();
    }
  });

  it('refuses a --to that is not a postgres:// URL, in one line', async () => {
    const bad = await estuary(['db', 'migrate', '--from', home.home, '--to', 'notaurl']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('estuary: --to: expected a postgres://user@host:port/database URL\n');
    const other = await estuary(['db', 'migrate', '--from', home.home, '--to', 'mysql://db.example.net/estuary']);
    expect(other.code).toBe(2);
    expect(other.stderr).toBe('estuary: --to: expected a postgres:// or postgresql:// URL, got a mysql: URL\n');
  });

  it('refuses a target that already holds data, and changes nothing', async () => {
    const again = await estuary(['db', 'migrate', '--from', home.home, '--to', db.url]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/is not empty \(accounts: \d+ rows\); migrate into a new database/);
  });
});
