/**
 * RSA requests with hand-picked numbers, signed with bigint arithmetic: keys OpenSSL will not make
 * (e = 1, a prime modulus, a modulus with a small factor, a square) still give a CSR whose
 * signature verifies, so the server's key checks, not its signature check, must refuse them.
 */
import { createHash, generatePrimeSync } from 'node:crypto';
import { bitString, DER_NULL, oid, seq, smallInteger, tlv, unsignedInteger } from '../../src/pki/der.js';
import { encodeName } from '../../src/pki/names.js';
import { OID } from '../../src/pki/oids.js';

export interface RawRsaKey {
  n: bigint;
  e: bigint;
  d: bigint;
}

export const bytesOf = (x: bigint, length?: number): Buffer => {
  const hex = x.toString(16);
  const b = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
  return length === undefined || b.length >= length ? b : Buffer.concat([Buffer.alloc(length - b.length), b]);
};
const bigOf = (b: Buffer): bigint => BigInt(`0x${b.toString('hex')}`);

export function modPow(base: bigint, exp: bigint, m: bigint): bigint {
  let r = 1n;
  let b = base % m;
  for (let e = exp; e > 0n; e >>= 1n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
  }
  return r;
}

export function modInverse(a: bigint, m: bigint): bigint | undefined {
  let [r0, r1, s0, s1] = [a % m, m, 1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return r0 === 1n ? ((s0 % m) + m) % m : undefined;
}

export function rsaSpki(n: bigint, e: bigint): Buffer {
  return seq(seq(oid(OID.rsaEncryption), DER_NULL), bitString(seq(unsignedInteger(bytesOf(n)), unsignedInteger(bytesOf(e)))));
}

/** A PKCS#10 request for the key (n, e), signed sha256WithRSAEncryption with d (RFC 8017 §8.2, EMSA-PKCS1-v1_5). */
export function rawRsaCsr(key: RawRsaKey, subject = 'CN=odd-rsa'): Buffer {
  const info = seq(smallInteger(0), encodeName(subject), rsaSpki(key.n, key.e), tlv(0xa0));
  const k = bytesOf(key.n).length;
  const digestInfo = seq(seq(oid(OID.sha256), DER_NULL), tlv(0x04, createHash('sha256').update(info).digest()));
  const em = Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(k - digestInfo.length - 3, 0xff), Buffer.from([0]), digestInfo]);
  const signature = bytesOf(modPow(bigOf(em), key.d, key.n), k);
  return seq(info, seq(oid(OID.sha256WithRSAEncryption), DER_NULL), bitString(signature));
}

const E = 65_537n;

/** A key whose "modulus" is one prime p: it signs and verifies (d = e⁻¹ mod p−1). */
export function primeModulusKey(bits = 2048): RawRsaKey {
  for (;;) {
    const p = generatePrimeSync(bits, { bigint: true });
    const d = modInverse(E, p - 1n);
    if (d !== undefined) return { n: p, e: E, d };
  }
}

const bitLength = (n: bigint): number => n.toString(2).length;

/**
 * n = f · q with a small prime factor f and a large prime q; n has exactly `bits` bits (OpenSSL's
 * primes have their top two bits set, so q's size alternates until the product fits).
 */
export function smallFactorKey(f: bigint, bits = 2048): RawRsaKey {
  for (let attempt = 0; ; attempt++) {
    const q = generatePrimeSync(bits - bitLength(f) + (attempt % 2), { bigint: true });
    const d = modInverse(E, (f - 1n) * (q - 1n));
    if (d !== undefined && bitLength(f * q) === bits) return { n: f * q, e: E, d };
  }
}

/** n = q², a perfect square: φ(n) = q(q−1); n has exactly `bits` bits. */
export function squareModulusKey(bits = 2048): RawRsaKey {
  for (;;) {
    const q = generatePrimeSync(bits / 2, { bigint: true });
    const d = modInverse(E, q * (q - 1n));
    if (d !== undefined && bitLength(q * q) === bits) return { n: q * q, e: E, d };
  }
}

/** The modulus of a real key with e = 1: the signature is the encoded digest itself. */
export function exponentOneKey(n: bigint): RawRsaKey {
  return { n, e: 1n, d: 1n };
}
