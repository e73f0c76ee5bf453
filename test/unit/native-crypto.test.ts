/**
 * The native ECDSA fast path (native/estuary-crypto.cc) agrees with node:crypto: valid signatures
 * accepted, tampered ones and invalid points refused, native signatures verified by node:crypto
 * and certificates issued with it by `openssl verify`. And it is loaded: CI must not silently
 * fall back to node:crypto.
 */
import { generateKeyPairSync, randomBytes, sign as cryptoSign, verify as cryptoVerify, createPublicKey, type KeyObject } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCaHierarchy } from '../../src/ca/ca-setup.js';
import { createLocalCa } from '../../src/ca/local-ca.js';
import { toPem } from '../../src/pki/base64.js';
import { signatureSchemeFor, signWith } from '../../src/pki/certificate.js';
import { CsrError, parseCsr, verifyCsrSignature } from '../../src/pki/csr.js';
import { children, readTop, seq, tlv, value, TAG } from '../../src/pki/der.js';
import { nativeCrypto, type NativeCryptoLoaded, type NativeCurve, type NativeHash } from '../../src/pki/native-crypto.js';
import { openssl, requireOpenssl, scratch } from './openssl-tool.js';
import { issueTemplate } from '../helpers/issue-template.js';

let tmp: ReturnType<typeof scratch>;
beforeAll(() => {
  requireOpenssl();
  tmp = scratch('estuary-native-');
});
afterAll(() => tmp?.cleanup());

it('the native addon is loaded (npm ci builds it from binding.gyp)', () => {
  expect(nativeCrypto.loaded ? 'loaded' : nativeCrypto.reason).toBe('loaded');
});

const native = (): NativeCryptoLoaded => {
  if (!nativeCrypto.loaded) throw new Error(`native crypto not loaded: ${nativeCrypto.reason}`);
  return nativeCrypto;
};

const CURVES: Array<{ curve: NativeCurve; coord: number; p: bigint; b: bigint }> = [
  { curve: 'P-256', coord: 32, p: 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n, b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn },
  { curve: 'P-384', coord: 48, p: 2n ** 384n - 2n ** 128n - 2n ** 96n + 2n ** 32n - 1n, b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn },
];
const HASHES: NativeHash[] = ['sha256', 'sha384', 'sha512'];

const pointOf = (publicKey: KeyObject): Buffer => {
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const [, bits] = children(spki, readTop(spki));
  return value(spki, bits!).subarray(1);
};
const nodeVerify = (hash: string, data: Buffer, key: KeyObject, sig: Buffer): boolean => {
  try {
    return cryptoVerify(hash, data, { key, dsaEncoding: 'der' }, sig);
  } catch {
    return false;
  }
};
const bigBytes = (n: bigint, len: number): Buffer => Buffer.from(n.toString(16).padStart(len * 2, '0'), 'hex');
const modPow = (base: bigint, exp: bigint, m: bigint): bigint => {
  let r = 1n;
  let b = base % m;
  for (let e = exp; e > 0n; e >>= 1n, b = (b * b) % m) if (e & 1n) r = (r * b) % m;
  return r;
};

describe.each(CURVES)('$curve: native verify agrees with node:crypto', ({ curve, coord, p, b }) => {
  const keys = generateKeyPairSync('ec', { namedCurve: curve });
  const point = pointOf(keys.publicKey);
  const data = randomBytes(300);

  it.each(HASHES)('%s: a valid signature verifies, tampered data and signatures do not', (hash) => {
    const sig = cryptoSign(hash, data, { key: keys.privateKey, dsaEncoding: 'der' });
    expect(native().ecdsaVerify(curve, hash, point, data, sig)).toBe(true);
    const tamperedData = Buffer.from(data);
    tamperedData[17]! ^= 0x40;
    const tamperedSig = Buffer.from(sig);
    tamperedSig[sig.length - 3]! ^= 0x01;
    const otherHash = hash === 'sha256' ? 'sha384' : 'sha256';
    for (const [d, s, h] of [[tamperedData, sig, hash], [data, tamperedSig, hash], [data, sig, otherHash]] as const) {
      expect(native().ecdsaVerify(curve, h, point, d, s)).toBe(false);
      expect(nodeVerify(h, d, keys.publicKey, s)).toBe(false);
    }
  });

  it('signature encodings: both accept (r, n-s); both refuse BER, trailing bytes, r = 0 and garbage', () => {
    const sig = cryptoSign('sha256', data, { key: keys.privateKey, dsaEncoding: 'der' });
    const [rTlv, sTlv] = children(sig, readTop(sig));
    const r = value(sig, rTlv!);
    const s = value(sig, sTlv!);
    const n = BigInt('0x' + (curve === 'P-256'
      ? 'ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551'
      : 'ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973'));
    const int = (x: bigint): Buffer => {
      let h = x.toString(16);
      if (h.length % 2) h = '0' + h;
      const bytes = Buffer.from(h, 'hex');
      return tlv(TAG.INTEGER, bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
    };
    const flipped = seq(tlv(TAG.INTEGER, r), int(n - BigInt('0x' + s.toString('hex'))));
    const body = Buffer.concat([tlv(TAG.INTEGER, r), tlv(TAG.INTEGER, s)]);
    const ber = Buffer.concat([Buffer.from([0x30, 0x81, body.length]), body]); // long-form length: BER, not DER
    const padded = seq(tlv(TAG.INTEGER, Buffer.concat([Buffer.from([0]), r[0]! & 0x80 ? r : Buffer.concat([Buffer.from([0]), r])])), tlv(TAG.INTEGER, s));
    const cases: Array<[string, Buffer, boolean]> = [
      ['(r, n-s)', flipped, true],
      ['long-form length', ber, false],
      ['non-minimal INTEGER', padded, false],
      ['trailing byte', Buffer.concat([sig, Buffer.from([0])]), false],
      ['r = 0', seq(int(0n), tlv(TAG.INTEGER, s)), false],
      ['s = n', seq(tlv(TAG.INTEGER, r), int(n)), false],
      ['empty', Buffer.alloc(0), false],
      ['garbage', randomBytes(70), false],
    ];
    for (const [what, candidate, expected] of cases) {
      expect(native().ecdsaVerify(curve, 'sha256', point, data, candidate), what).toBe(expected);
      expect(nodeVerify('sha256', data, keys.publicKey, candidate), what).toBe(expected);
    }
  });

  it('invalid points are refused by both: off the curve, infinity, coordinates ≥ p, other encodings', () => {
    const sig = cryptoSign('sha256', data, { key: keys.privateKey, dsaEncoding: 'der' });
    // a point with a small x (found by trial): x + p encodes the same residue, out of range
    let x0 = 1n;
    let y0 = 0n;
    for (;; x0++) {
      const rhs = (((x0 * x0 * x0 - 3n * x0 + b) % p) + p) % p;
      y0 = modPow(rhs, (p + 1n) / 4n, p); // p ≡ 3 (mod 4) for both curves
      if ((y0 * y0) % p === rhs) break;
    }
    const smallPoint = Buffer.concat([Buffer.from([4]), bigBytes(x0, coord), bigBytes(y0, coord)]);
    expect(native().ecPointValid(curve, smallPoint), 'the in-range point is on the curve').toBe(true);
    const offCurve = Buffer.from(point);
    offCurve[offCurve.length - 1]! ^= 0x01;
    const compressed = Buffer.concat([Buffer.from([2 + (point[point.length - 1]! & 1)]), point.subarray(1, 1 + coord)]);
    const hybrid = Buffer.from(point);
    hybrid[0] = 6 + (point[point.length - 1]! & 1);
    const invalid: Array<[string, Buffer]> = [
      ['off the curve', offCurve],
      ['infinity', Buffer.from([0])],
      ['(0, 0)', Buffer.concat([Buffer.from([4]), Buffer.alloc(2 * coord)])],
      ['x ≥ p', Buffer.concat([Buffer.from([4]), bigBytes(x0 + p, coord), bigBytes(y0, coord)])],
      ['y = p', Buffer.concat([Buffer.from([4]), bigBytes(x0, coord), bigBytes(p, coord)])],
      ['compressed', compressed],
      ['hybrid', hybrid],
      ['truncated', point.subarray(0, point.length - 1)],
      ['the other curve', curve === 'P-256' ? pointOf(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey) : pointOf(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey)],
    ];
    for (const [what, candidate] of invalid) {
      expect(native().ecPointValid(curve, candidate), what).toBe(false);
      expect(native().ecdsaVerify(curve, 'sha256', candidate, data, sig), what).toBe(false);
    }
    // node:crypto refuses the ones it can be handed as a JWK (uncompressed coordinates)
    const jwk = (pt: Buffer) => ({ kty: 'EC', crv: curve, x: pt.subarray(1, 1 + coord).toString('base64url'), y: pt.subarray(1 + coord).toString('base64url') });
    for (const what of ['off the curve', '(0, 0)']) {
      const pt = invalid.find(([w]) => w === what)![1];
      expect(() => createPublicKey({ format: 'jwk', key: jwk(pt) }), what).toThrow();
    }
  });

  it('the CSR path: native parse + verify give what node:crypto gives', () => {
    const key = tmp.path(`${curve}.pem`);
    const csr = openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', `ec_paramgen_curve:${curve}`, '-nodes', '-keyout', key, '-subj', `/CN=${curve}`, '-outform', 'DER']);
    const parsed = parseCsr(csr);
    expect(verifyCsrSignature(parsed)).toBe(true);
    // the lazily imported KeyObject is the request's key, and node:crypto agrees
    expect(parsed.publicKey.export({ type: 'spki', format: 'der' }).equals(parsed.spki)).toBe(true);
    expect(nodeVerify('sha256', parsed.info, parsed.publicKey, parsed.signature)).toBe(true);
    const tampered = Buffer.from(csr);
    tampered[csr.indexOf(Buffer.from(`CN=${curve}`).subarray(3))]! ^= 0x20;
    const bad = parseCsr(tampered);
    expect(verifyCsrSignature(bad)).toBe(false);
    expect(nodeVerify('sha256', bad.info, bad.publicKey, bad.signature)).toBe(false);
    const offCurve = Buffer.from(csr);
    offCurve[csr.indexOf(parsed.spki) + parsed.spki.length - 1]! ^= 0x01;
    expect(() => parseCsr(offCurve)).toThrow(CsrError);
  });
});

describe('native signing', () => {
  it.each(CURVES)('$curve: signatures verify with node:crypto, are DER and randomized', ({ curve }) => {
    const keys = generateKeyPairSync('ec', { namedCurve: curve });
    const scheme = signatureSchemeFor(keys.privateKey);
    expect(scheme.native, 'the scheme signs natively').toBeDefined();
    const data = randomBytes(500);
    const a = signWith(scheme, keys.privateKey, data);
    const b = signWith(scheme, keys.privateKey, data);
    expect(a.equals(b)).toBe(false);
    for (const sig of [a, b]) {
      expect(readTop(sig).end).toBe(sig.length);
      expect(cryptoVerify(scheme.hash, data, { key: keys.publicKey, dsaEncoding: 'der' }, sig)).toBe(true);
      expect(native().ecdsaVerify(curve, scheme.hash as NativeHash, pointOf(keys.publicKey), data, sig)).toBe(true);
    }
    expect(cryptoVerify(scheme.hash, randomBytes(500), { key: keys.publicKey, dsaEncoding: 'der' }, a)).toBe(false);
  });

  it('other keys stay on node:crypto: RSA, Ed25519, P-521, secp256k1, public keys', () => {
    const others = [
      generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
      generateKeyPairSync('ed25519').privateKey,
      generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey,
      generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey,
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey,
    ];
    for (const key of others) expect(native().ecSigner(key), `${key.asymmetricKeyType} ${key.type}`).toBeUndefined();
    const p521 = generateKeyPairSync('ec', { namedCurve: 'P-521' });
    const scheme = signatureSchemeFor(p521.privateKey);
    expect(scheme.native).toBeUndefined();
    const data = randomBytes(100);
    expect(cryptoVerify('sha512', data, { key: p521.publicKey, dsaEncoding: 'der' }, signWith(scheme, p521.privateKey, data))).toBe(true);
  });

  it('a scheme used with another key signs with that key (node:crypto), not the native one', () => {
    const a = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const b = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const scheme = signatureSchemeFor(a.privateKey);
    const data = randomBytes(64);
    expect(cryptoVerify('sha256', data, { key: b.publicKey, dsaEncoding: 'der' }, signWith(scheme, b.privateKey, data))).toBe(true);
  });

  it.each(['ec-p256', 'ec-p384'] as const)('%s: the local CA issues certificates and CRLs that openssl verifies', async (algorithm) => {
    const { root, issuing } = createCaHierarchy({ algorithm, rootName: 'CN=Native Root', issuingName: 'CN=Native Issuing', now: new Date(), random: randomBytes });
    const ca = createLocalCa({ id: 'native', key: issuing.key, chain: [issuing.der, root.der], now: () => new Date(), random: randomBytes });
    const leafKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const { der } = await issueTemplate(ca, {
      subject: seq(), spki: leafKey.publicKey.export({ type: 'spki', format: 'der' }), subjectAltName: seq(tlv(0x82, Buffer.from('native.example'))),
      validitySeconds: 1 * 86_400, keyUsage: ['digitalSignature'], extendedKeyUsage: [],
    });
    const rootPem = tmp.write(`${algorithm}-root.pem`, toPem('CERTIFICATE', root.der));
    const issuingPem = tmp.write(`${algorithm}-issuing.pem`, toPem('CERTIFICATE', issuing.der));
    const leafPem = tmp.write(`${algorithm}-leaf.pem`, toPem('CERTIFICATE', der));
    expect(openssl(['verify', '-CAfile', rootPem, '-untrusted', issuingPem, leafPem]).toString()).toContain(': OK');
    const crl = tmp.write(`${algorithm}.crl`, (await ca.issueCrl({ revoked: [], thisUpdate: new Date(), nextUpdate: new Date(Date.now() + 86_400_000) })).der);
    // `openssl crl -CAfile` exits 0 either way and says "verify OK" or "verify failure" on stderr
    const crlCheck = spawnSync('openssl', ['crl', '-inform', 'DER', '-in', crl, '-CAfile', issuingPem, '-noout'], { encoding: 'utf8' });
    expect(crlCheck.stderr.trim()).toBe('verify OK');
  });

  it('the addon refuses forged signers, keys on another curve, bad arguments and unknown hashes', () => {
    const raw = createRequire(import.meta.url)('../../build/Release/estuary_crypto.node') as {
      ecSigner(curve: string, der: Buffer): object;
      ecdsaSign(signer: object, hash: string, data: Buffer): Buffer;
      ecdsaVerify(...args: unknown[]): boolean;
    };
    const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'der' });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'der' });
    const signer = raw.ecSigner('P-256', p256);
    expect(raw.ecdsaSign(signer, 'sha256', Buffer.alloc(1)).length).toBeGreaterThan(8);
    expect(() => raw.ecdsaSign({}, 'sha256', Buffer.alloc(1))).toThrow(TypeError);
    expect(() => raw.ecdsaSign(signer, 'md5', Buffer.alloc(1))).toThrow(/unsupported hash/);
    expect(() => raw.ecSigner('P-384', p256)).toThrow(/not a valid EC private key/);
    expect(() => raw.ecSigner('P-256', rsa)).toThrow(/not a valid EC private key/);
    expect(() => raw.ecSigner('P-256', randomBytes(100))).toThrow(/not a valid EC private key/);
    expect(() => raw.ecSigner('P-521', p256)).toThrow(/unsupported curve/);
    expect(() => raw.ecdsaVerify('P-256', 'sha256', 'not a buffer', Buffer.alloc(1), Buffer.alloc(1))).toThrow(TypeError);
    expect(() => raw.ecdsaVerify('P-256', 'sha256')).toThrow(TypeError);
    // node:crypto still works after refusals (the OpenSSL error queue was left clean)
    const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const sig = cryptoSign('sha256', Buffer.alloc(3), keys.privateKey);
    expect(cryptoVerify('sha256', Buffer.alloc(3), keys.publicKey, sig)).toBe(true);
  });
});
