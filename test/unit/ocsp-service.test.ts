/** The OCSP service without HTTP: CA-signed responses, delegated responder renewal, statuses. */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCaHierarchy } from '../../src/ca/ca-setup.js';
import { createLocalCa } from '../../src/ca/local-ca.js';
import { toPem } from '../../src/pki/base64.js';
import { createOcspService } from '../../src/ra/ocsp-service.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite-store.js';
import { insertRevoked } from '../helpers/bulk-revoked.js';
import { tempDir } from '../helpers/home.js';

let store: SqliteStore;
let dir: string;
let dbPath: string;
const hierarchy = createCaHierarchy({ algorithm: 'ec-p256', rootName: 'CN=OCSP Root', issuingName: 'CN=OCSP Issuing', now: new Date('2026-01-01T00:00:00Z'), random: randomBytes });

beforeAll(() => {
  dir = tempDir('estuary-ocsp-unit-');
  dbPath = join(dir, 'ocsp.db');
  store = openSqliteStore(dbPath);
  writeFileSync(join(dir, 'root.pem'), toPem('CERTIFICATE', hierarchy.root.der));
  writeFileSync(join(dir, 'issuing.pem'), toPem('CERTIFICATE', hierarchy.issuing.der));
  insertRevoked(dbPath, { ca: 'default', count: 1, prefix: '6d', revokedAt: new Date('2026-02-01T00:00:00Z') });
});
afterAll(async () => {
  await store.close();
});

function request(serial: string): Buffer {
  execFileSync('openssl', ['ocsp', '-issuer', 'issuing.pem', '-serial', `0x${serial}`, '-no_nonce', '-reqout', 'req.der'], { cwd: dir });
  return readFileSync(join(dir, 'req.der'));
}

function check(response: Buffer, serial: string): string {
  writeFileSync(join(dir, 'resp.der'), response);
  const r = spawnSync('openssl', ['ocsp', '-respin', 'resp.der', '-issuer', 'issuing.pem', '-serial', `0x${serial}`, '-CAfile', 'root.pem', '-verify_other', 'issuing.pem', '-resp_text'], { cwd: dir, encoding: 'utf8' });
  return r.stdout + r.stderr;
}

describe('OCSP service', () => {
  it('signs with the CA key when ocspSigner is ca: no certificates in the response, verified against the issuing CA', async () => {
    const ca = createLocalCa({ id: 'default', key: hierarchy.issuing.key, chain: [hierarchy.issuing.der, hierarchy.root.der], now: () => new Date(), random: randomBytes, ocspSigner: 'ca' });
    const ocsp = createOcspService({ store, cas: new Map([['default', ca]]), now: () => new Date('2026-03-01T00:00:00Z'), validityMinutes: 30 });
    const serial = '6d' + '0'.repeat(30);
    const out = check((await ocsp.respond('default', request(serial)))!, serial);
    expect(out).toMatch(/Response verify OK/);
    expect(out).toMatch(/: revoked/);
    expect(out).toMatch(/Responder Id: .*[0-9A-F]{40}|Responder Id: [0-9A-F:]+/);
    expect(out).not.toMatch(/Certificate:/);
    expect(out).toMatch(/This Update: Mar  1 00:00:00 2026 GMT/);
    expect(out).toMatch(/Next Update: Mar  1 00:30:00 2026 GMT/);
    expect(await ocsp.respond('nosuch', request(serial))).toBeUndefined();
  });

  it('keeps a delegated responder certificate until half its life, then issues a new one', async () => {
    const start = Date.now() - 15 * 86_400_000 - 10_000; // the renewal falls on the real now, for openssl
    let now = new Date(start);
    const ca = createLocalCa({ id: 'default', key: hierarchy.issuing.key, chain: [hierarchy.issuing.der, hierarchy.root.der], now: () => now, random: randomBytes });
    const first = (await ca.ocspResponder(now)).certificates[0]!;
    now = new Date(start + 9 * 86_400_000);
    expect((await ca.ocspResponder(now)).certificates[0]!.equals(first)).toBe(true);
    now = new Date(); // past half of 30 days
    const renewed = (await ca.ocspResponder(now)).certificates[0]!;
    expect(renewed.equals(first)).toBe(false);
    const ocsp = createOcspService({ store, cas: new Map([['default', ca]]), now: () => now, validityMinutes: 60 });
    const out = check((await ocsp.respond('default', request('0123')))!, '0123');
    expect(out).toMatch(/Response verify OK/);
    expect(out).toMatch(/0x0123: unknown/);
    expect(out).toMatch(/OCSP Signing/);
  });
});
