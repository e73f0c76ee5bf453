/**
 * Enrollment through the real EST server over TLS with the PostgreSQL store: two RA instances
 * (two stores, two servers) on one database. The home (CA, TLS, profiles, accounts) is made as
 * `estuary init` makes it; its profiles and accounts are copied into PostgreSQL.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/cli/config.js';
import { openCa } from '../../src/cli/runtime.js';
import { createEstServer, type EstServer } from '../../src/est/est-server.js';
import { createEnrollmentService } from '../../src/ra/enrollment-service.js';
import { openPostgresStore, type PostgresStore } from '../../src/store/postgres-store.js';
import { openSqliteStore } from '../../src/store/sqlite-store.js';
import type { StoreChange } from '../../src/store/store.js';
import { certsFrom, csrBody, estRequest, pem } from '../helpers/est-http.js';
import { makeHome, type TestHome, sqlitePath } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

let home: TestHome;
let db: TestDatabase;
const stores: PostgresStore[] = [];
const servers: EstServer[] = [];
const bases: string[] = [];
let basic: { user: string; password: string };

beforeAll(async () => {
  home = await makeHome();
  db = await createTestDatabase();
  const config = loadConfig(home.home, {});
  const sqlite = openSqliteStore(sqlitePath(config));
  const first = await openPostgresStore(db.url);
  for (const p of await sqlite.listProfiles()) await first.createProfile(p);
  for (const a of await sqlite.listAccounts()) await first.createAccount({ email: a.email, passwordHash: a.passwordHash, role: a.role });
  await sqlite.close();
  stores.push(first, await openPostgresStore(db.url));
  const [id, caConfig] = Object.entries(config.cas)[0]!;
  const ca = openCa(id, caConfig);
  const logger = pino({ enabled: false });
  for (const store of stores) {
    const service = createEnrollmentService({ store, cas: new Map([[id, ca]]), defaultProfile: config.est.defaultProfile, now: () => new Date(), logger, unavailableRetryAfter: 30 });
    const est = await createEstServer({ service, logger, tls: { key: readFileSync(config.tls.key), cert: readFileSync(config.tls.certificate) } });
    await est.listen({ host: '127.0.0.1', port: 0 });
    servers.push(est);
    bases.push(`https://127.0.0.1:${(est.server.address() as AddressInfo).port}/.well-known/est`);
  }
  basic = { user: home.summary.estAccount.email, password: home.summary.estAccount.password };
});
afterAll(async () => {
  for (const s of servers) await s.close();
  for (const s of stores) await s.close();
  await db?.drop();
});

describe('EST with the PostgreSQL store, two instances on one database', () => {
  it('enrolls on one instance, renews on the other, and a revocation made on one is seen by the other', async () => {
    const csr = await makeCsr({ name: 'CN=pg-device-1', dns: ['pg-device-1.example'] });
    const enrolled = await estRequest(`${bases[0]}/simpleenroll`, { ca: home.rootPem, body: csrBody(csr.der), contentType: 'application/pkcs10', basic });
    expect(enrolled.status).toBe(200);
    const [cert] = certsFrom(enrolled);
    const recorded = (await stores[1]!.listCertificates()).find((c) => c.subject === 'CN=pg-device-1');
    expect(recorded?.der.equals(cert!)).toBe(true);
    expect((await stores[1]!.listAudit({ action: 'simpleenroll' })).some((e) => e.serial === recorded!.serial && e.outcome === 'success')).toBe(true);

    const renewed = await estRequest(`${bases[1]}/simplereenroll`, {
      ca: home.rootPem, body: csrBody(csr.der), contentType: 'application/pkcs10', clientCert: { cert: pem(cert!), key: csr.keyPem },
    });
    expect(renewed.status).toBe(200);
    const successor = (await stores[0]!.listCertificates()).find((c) => c.renews === recorded!.serial);
    expect(successor?.der.equals(certsFrom(renewed)[0]!)).toBe(true);

    const heard = new Promise<StoreChange>((resolve) => {
      const off = stores[1]!.changes.subscribe((c) => {
        if (c.kind === 'revocation' && c.serial === successor!.serial) {
          off();
          resolve(c);
        }
      });
    });
    expect(await stores[0]!.revokeCertificate(successor!.serial, 'keyCompromise', new Date())).toBe(true);
    expect(await heard).toMatchObject({ kind: 'revocation' });
    expect(await stores[1]!.isRevoked(successor!.serial)).toBe(true);
    const refused = await estRequest(`${bases[1]}/simplereenroll`, {
      ca: home.rootPem, body: csrBody(csr.der), contentType: 'application/pkcs10', clientCert: { cert: pem(certsFrom(renewed)[0]!), key: csr.keyPem },
    });
    expect(refused.status).toBeGreaterThanOrEqual(400); // the revoked certificate renews nothing
  });

  it('lands every enrollment sent to both instances at once, each serial once', async () => {
    const csrs = await Promise.all(Array.from({ length: 12 }, (_, i) => makeCsr({ name: `CN=pg-load-${i}` })));
    const responses = await Promise.all(csrs.map((csr, i) =>
      estRequest(`${bases[i % 2]}/simpleenroll`, { ca: home.rootPem, body: csrBody(csr.der), contentType: 'application/pkcs10', basic })));
    expect(responses.map((r) => r.status)).toEqual(csrs.map(() => 200));
    const all = await stores[0]!.listCertificates({ limit: 1000 });
    const load = all.filter((c) => c.subject.startsWith('CN=pg-load-'));
    expect(load).toHaveLength(12);
    expect(new Set(load.map((c) => c.serial)).size).toBe(12);
  });
});
