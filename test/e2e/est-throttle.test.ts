/**
 * HTTP Basic brute force over real TLS: failures lock an account (and a client address) with
 * 429 + Retry-After and a text reason, a lock is audited once, a device whose password was
 * verified recently keeps working, and an unlock lifts the account lock.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { hashPassword } from '../../src/ra/password.js';
import { csrBody, estRequest } from '../helpers/est-http.js';
import { makeHome, startServer, type TestServer } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';

let s: TestServer;
let csr: string;

beforeAll(async () => {
  const home = await makeHome();
  const file = join(home.home, 'estuary.yaml');
  const doc = parse(readFileSync(file, 'utf8')) as { est: Record<string, unknown> };
  doc.est.authThrottle = { maxFailuresPerAccount: 3, maxFailuresPerAddress: 12, windowMinutes: 15, lockMinutes: 5 };
  writeFileSync(file, stringify(doc));
  s = await startServer(home);
  csr = csrBody((await makeCsr({ name: 'CN=device-1', dns: ['device-1.example'] })).der);
  for (const email of ['victim@example.com', 'device@example.com', 'other@example.com']) {
    await s.runtime.store.createAccount({ email, passwordHash: await hashPassword('right-password'), role: 'est' });
  }
});
afterAll(async () => {
  await s.runtime.close();
});

const enroll = (user: string, password: string) =>
  estRequest(s.base + '/simpleenroll', { ca: s.rootPem, basic: { user, password }, body: csr, contentType: 'application/pkcs10' });

describe('HTTP Basic failures are throttled', () => {
  it('locks an account after 3 failures: 429 with Retry-After and a reason, even for the right password; one audit event', async () => {
    for (let i = 0; i < 3; i++) expect((await enroll('victim@example.com', `guess-${i}`)).status).toBe(401);
    for (const password of ['guess-4', 'right-password', 'guess-5']) {
      const res = await enroll('victim@example.com', password);
      expect(res.status).toBe(429);
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(200);
      expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(300);
      expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(res.text).toMatch(/too many failed authentication attempts for account victim@example.com; try again in \d+ seconds/);
    }
    const lockouts = await s.runtime.store.listAudit({ action: 'est.lockout' });
    expect(lockouts).toHaveLength(1);
    expect(lockouts[0]).toMatchObject({ actor: 'victim@example.com', outcome: 'throttled', profile: 'default' });
    expect(lockouts[0]!.detail).toMatch(/account victim@example.com locked for 300 s/);
    // Refusals while locked are not audited one by one.
    expect((await s.runtime.store.listAudit({ actor: 'victim@example.com' })).filter((e) => e.outcome === 'throttled')).toHaveLength(1);
    // Other accounts are unaffected.
    expect((await enroll('other@example.com', 'right-password')).status).toBe(200);
  });

  it('a device whose password was verified recently keeps working while guessers lock its account', async () => {
    expect((await enroll('device@example.com', 'right-password')).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await enroll('device@example.com', `guess-${i}`)).status).toBe(401);
    expect((await enroll('device@example.com', 'guess-9')).status).toBe(429);
    expect((await enroll('device@example.com', 'right-password')).status).toBe(200);
  });

  it('an unlock recorded in the store (estuary account unlock, the Web RA) lifts the account lock', async () => {
    expect((await enroll('victim@example.com', 'right-password')).status).toBe(429);
    await s.runtime.store.unlockAccount('victim@example.com', new Date());
    expect((await enroll('victim@example.com', 'right-password')).status).toBe(200);
  });

  it('locks a client address after 12 failures across accounts, then refuses everyone from it', async () => {
    let n = (await s.runtime.store.listAudit({ action: 'est.lockout' })).length;
    for (let i = 0; ; i++) {
      const res = await enroll(`nobody-${i}@example.com`, 'x');
      if (res.status === 429) {
        expect(res.text).toMatch(/too many failed authentication attempts for this client address/);
        break;
      }
      expect(res.status).toBe(401);
      expect(i).toBeLessThan(12);
    }
    expect((await enroll('other@example.com', 'right-password')).status).toBe(429);
    const events = await s.runtime.store.listAudit({ action: 'est.lockout' });
    expect(events.length - n).toBe(1);
    n = events.length;
    expect(events[0]).toMatchObject({ actor: '127.0.0.1', outcome: 'throttled' });
    expect(events[0]!.detail).toMatch(/address 127.0.0.1 locked/);
    // The server still answers everything else.
    expect((await estRequest(s.base + '/cacerts', { ca: s.rootPem })).status).toBe(200);
  });
});
