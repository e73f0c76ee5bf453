/**
 * A CRL at real size: 150,000 revoked certificates signed without overflowing the stack, checked by
 * openssl, and served again from the cache (same bytes, same cRLNumber) while nothing changes.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertRevoked } from '../helpers/bulk-revoked.js';
import { startServer, tempDir, type TestServer, sqlitePath } from '../helpers/home.js';

const COUNT = 150_000;
let s: TestServer;
let dir: string;

async function openssl(args: string[]): Promise<string> {
  const { stdout, stderr } = await promisify(execFile)('openssl', args, { cwd: dir, encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
  return stdout + stderr;
}

async function fetchCrl(): Promise<{ status: number; body: Buffer }> {
  const res = await fetch(s.runtime.crlBaseUrl() + '/default.crl');
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

async function crlNumber(file: string): Promise<string> {
  return /crlNumber=(\S+)/.exec(await openssl(['crl', '-inform', 'DER', '-in', file, '-noout', '-crlnumber']))![1]!;
}

beforeAll(async () => {
  dir = tempDir('estuary-crl-large-');
  s = await startServer();
  writeFileSync(join(dir, 'issuing.pem'), readFileSync(join(s.home, 'ca', 'issuing.pem')));
  insertRevoked(sqlitePath(s.runtime.config), { ca: 'default', count: COUNT });
}, 60_000);
afterAll(async () => {
  await s.runtime.close();
});

describe('a CRL of 150,000 revoked certificates', () => {
  it('is signed and served; openssl verifies the signature and counts every entry', async () => {
    const crl = await fetchCrl();
    expect(crl.status, crl.body.toString()).toBe(200);
    writeFileSync(join(dir, 'big.crl'), crl.body);
    const text = await openssl(['crl', '-inform', 'DER', '-in', 'big.crl', '-CAfile', 'issuing.pem', '-noout', '-text']);
    expect(text).toMatch(/verify OK/);
    expect(text.match(/Serial Number: /g)?.length).toBe(COUNT);
    expect(text).toContain('Serial Number: 4B' + (COUNT - 1).toString(16).toUpperCase().padStart(30, '0'));
  }, 120_000);

  it('is served from the cache while nothing changes: the same bytes and cRLNumber', async () => {
    const first = await fetchCrl();
    const second = await fetchCrl();
    expect(second.status).toBe(200);
    expect(second.body.equals(first.body)).toBe(true);
    writeFileSync(join(dir, 'first.crl'), first.body);
    writeFileSync(join(dir, 'second.crl'), second.body);
    expect(await crlNumber('second.crl')).toBe(await crlNumber('first.crl'));
  }, 60_000);

  it('is re-signed with a higher cRLNumber once one more certificate is revoked', async () => {
    const before = await fetchCrl();
    insertRevoked(sqlitePath(s.runtime.config), { ca: 'default', count: 1, prefix: '5c', revokedAt: new Date() });
    const after = await fetchCrl();
    expect(after.body.equals(before.body)).toBe(false);
    writeFileSync(join(dir, 'before.crl'), before.body);
    writeFileSync(join(dir, 'after.crl'), after.body);
    expect(BigInt(await crlNumber('after.crl'))).toBeGreaterThan(BigInt(await crlNumber('before.crl')));
    const text = await openssl(['crl', '-inform', 'DER', '-in', 'after.crl', '-CAfile', 'issuing.pem', '-noout', '-text']);
    expect(text).toMatch(/verify OK/);
    expect(text.match(/Serial Number: /g)?.length).toBe(COUNT + 1);
  }, 120_000);

  it('answers concurrent fetches with one signature: every answer is the same CRL', async () => {
    insertRevoked(sqlitePath(s.runtime.config), { ca: 'default', count: 1, prefix: '5d', revokedAt: new Date() });
    const answers = await Promise.all(Array.from({ length: 4 }, () => fetchCrl()));
    for (const a of answers) expect(a.body.equals(answers[0]!.body)).toBe(true);
  }, 120_000);
});
