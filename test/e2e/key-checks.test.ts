/**
 * Keys the server must not certify even though the CSR signature verifies (RSA with e = 1, a prime
 * or small-factor modulus, e = 3 unless the profile allows it), EC points off their curve, and key
 * types no profile can allow (403, as the README promises).
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCsr } from '../../src/pki/csr-builder.js';
import { parseCsr } from '../../src/pki/csr.js';
import { rsaPublicNumbersOfSpki } from '../../src/pki/key-checks.js';
import { bitString, DER_NULL, oid, seq, smallInteger, tlv } from '../../src/pki/der.js';
import { encodeName } from '../../src/pki/names.js';
import { csrBody, estRequest, type EstResponse } from '../helpers/est-http.js';
import { startServer, tempDir, type TestServer } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';
import { exponentOneKey, primeModulusKey, rawRsaCsr, smallFactorKey } from '../helpers/raw-rsa.js';

let s: TestServer;
let basic: { user: string; password: string };

beforeAll(async () => {
  s = await startServer();
  basic = { user: s.summary.estAccount.email, password: s.summary.estAccount.password };
  const p = (await s.runtime.store.getProfile('default'))!;
  await s.runtime.store.createProfile({ ...p, label: 'rsa', keyAlgorithms: [{ type: 'rsa', minBits: 2048 }, { type: 'ec', curves: ['P-256', 'P-521'] }] });
  await s.runtime.store.createProfile({ ...p, label: 'rsa-e3', keyAlgorithms: [{ type: 'rsa', minBits: 2048, maxBits: 2048, minExponent: 3 }] });
}, 60_000);
afterAll(async () => {
  await s.runtime.close();
});

const enroll = (label: string, der: Buffer): Promise<EstResponse> =>
  estRequest(`${s.base}/${label}/simpleenroll`, { ca: s.rootPem, basic, body: csrBody(der), contentType: 'application/pkcs10' });

const rsaKey = (e?: number) => generateKeyPairSync('rsa', { modulusLength: 2048, ...(e ? { publicExponent: e } : {}) });

describe('RSA keys whose signature verifies but which protect nothing', () => {
  it('a real RSA-2048 key is certified (the control)', async () => {
    const { privateKey, publicKey } = rsaKey();
    const res = await enroll('rsa', buildCsr({ privateKey, publicKey, subject: 'CN=rsa-ok' }));
    expect(res.status, res.text).toBe(200);
  });

  it('e = 1: 403 naming the exponent', async () => {
    const n = rsaPublicNumbersOfSpki(rsaKey().publicKey.export({ type: 'spki', format: 'der' })).modulus;
    const res = await enroll('rsa', rawRsaCsr(exponentOneKey(n), 'CN=e-one'));
    expect(res.status, res.text).toBe(403);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toContain('the RSA public exponent 1 is below the minimum 65537');
  });

  it('a prime modulus: 403', async () => {
    const res = await enroll('rsa', rawRsaCsr(primeModulusKey(2048), 'CN=prime'));
    expect(res.status, res.text).toBe(403);
    expect(res.text).toContain('the RSA modulus is a prime');
  });

  it('a modulus with a small factor: 403', async () => {
    const res = await enroll('rsa', rawRsaCsr(smallFactorKey(9973n, 2048), 'CN=small-factor'));
    expect(res.status, res.text).toBe(403);
    expect(res.text).toContain('the RSA modulus is divisible by 9973');
  });

  it('e = 3 is refused by default and certified where the profile allows it (minExponent 3)', async () => {
    const { privateKey, publicKey } = rsaKey(3);
    const csr = buildCsr({ privateKey, publicKey, subject: 'CN=e-three' });
    const refused = await enroll('rsa', csr);
    expect(refused.status, refused.text).toBe(403);
    expect(refused.text).toContain('the RSA public exponent 3 is below the minimum 65537');
    const allowed = await enroll('rsa-e3', csr);
    expect(allowed.status, allowed.text).toBe(200);
  });

  it('a key larger than the rule\'s maxBits: 403', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 3 });
    const res = await enroll('rsa-e3', buildCsr({ privateKey, publicKey, subject: 'CN=too-big' }));
    expect(res.status, res.text).toBe(403);
    expect(res.text).toContain('key RSA 3072 bits is not allowed by profile "rsa-e3" (allowed: RSA 2048–2048 bits, e ≥ 3)');
  });
});

describe('EC points off their curve', () => {
  /** The CSR with the last byte of its public point changed: the point leaves the curve. */
  async function offCurve(type: 'ec-p256' | 'ec-p521'): Promise<Buffer> {
    const der = Buffer.from((await makeCsr({ type, name: 'CN=off-curve' })).der);
    const spkiAt = der.indexOf(parseCsr(der).spki);
    const last = spkiAt + parseCsr(der).spki.length - 1;
    der[last] ^= 0x01;
    return der;
  }

  it('P-256 (checked by the native addon when it is built) and P-521 (node:crypto import): 400 invalid public key', async () => {
    for (const type of ['ec-p256', 'ec-p521'] as const) {
      const res = await enroll('rsa', await offCurve(type));
      expect(res.status, `${type}: ${res.text}`).toBe(400);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      expect(res.text).toMatch(/invalid public key/);
    }
    const ok = await enroll('rsa', (await makeCsr({ type: 'ec-p521', name: 'CN=on-curve' })).der);
    expect(ok.status, ok.text).toBe(200); // the server keeps serving
  });
});

describe('key types no profile can allow: 403', () => {
  const dir = tempDir('estuary-keytypes-');
  const opensslCsr = (name: string, newkey: string[]): Buffer =>
    execFileSync('openssl', ['req', '-new', ...newkey, '-nodes', '-keyout', join(dir, `${name}.key`), '-subj', `/CN=${name}`, '-outform', 'DER'], { stdio: ['ignore', 'pipe', 'pipe'] });

  it('DSA, Ed448, secp256k1, and an unknown algorithm OID', async () => {
    const dsaParams = join(dir, 'dsa.params');
    execFileSync('openssl', ['genpkey', '-genparam', '-algorithm', 'DSA', '-pkeyopt', 'dsa_paramgen_bits:2048', '-out', dsaParams], { stdio: 'pipe' });
    const cases: Array<[string, Buffer, RegExp]> = [
      ['dsa', opensslCsr('dsa', ['-newkey', `dsa:${dsaParams}`]), /unsupported public key algorithm 1\.2\.840\.10040\.4\.1/],
      ['ed448', opensslCsr('ed448', ['-newkey', 'ed448']), /unsupported public key algorithm 1\.3\.101\.113/],
      ['secp256k1', opensslCsr('k1', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp256k1']), /unsupported elliptic curve 1\.3\.132\.0\.10/],
    ];
    // an algorithm OID nobody knows, in an otherwise well-formed request (the signature is never reached)
    const unknownSpki = seq(seq(oid('1.3.6.1.4.1.55555.1'), DER_NULL), bitString(Buffer.alloc(32, 7)));
    const info = seq(smallInteger(0), encodeName('CN=unknown'), unknownSpki, tlv(0xa0));
    cases.push(['unknown', seq(info, seq(oid('1.3.6.1.4.1.55555.2')), bitString(Buffer.alloc(64, 1))), /unsupported public key algorithm 1\.3\.6\.1\.4\.1\.55555\.1/]);
    for (const [name, der, reason] of cases) {
      const res = await enroll('rsa', der);
      expect(res.status, `${name}: ${res.text}`).toBe(403);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      expect(res.text).toMatch(reason);
    }
  }, 60_000);
});
