/** RSA public key checks (SP 800-89 §5.3.3): exponent, small factors, a square modulus, a prime modulus. */
import { generatePrimeSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseCsr, verifyCsrSignature } from '../../src/pki/csr.js';
import {
  isProbablePrime, perfectSquareRoot, rsaKeyProblem, rsaKeyShapeProblem, rsaPublicNumbersOfSpki, smallFactor, TaskGate, type RsaPublicNumbers,
} from '../../src/pki/key-checks.js';
import { checkKey, describeKeyRule } from '../../src/ra/profile-policy.js';
import { defaultProfile } from '../../src/ra/default-profile.js';
import type { KeyAlgorithmRule, Profile } from '../../src/ra/model.js';
import { rsaFixtureKey } from '../helpers/fixture-keys.js';
import { exponentOneKey, primeModulusKey, rawRsaCsr, rsaSpki, smallFactorKey, squareModulusKey } from '../helpers/raw-rsa.js';

/** The numbers of a real RSA-2048 key (the fixture key: generating one per call costs a tenth of a second or more). */
const realModulus = (): RsaPublicNumbers => rsaPublicNumbersOfSpki(rsaFixtureKey(2048).publicKey.export({ type: 'spki', format: 'der' }));

const numbers = (n: bigint, e: bigint): RsaPublicNumbers => ({ modulus: n, exponent: e, bits: n.toString(2).length });

function profile(keyAlgorithms: KeyAlgorithmRule[]): Profile {
  return { ...defaultProfile('devices', 'default'), keyAlgorithms, createdAt: new Date(0), updatedAt: new Date(0) };
}

describe('RSA key checks', () => {
  const good = realModulus();

  it('a real RSA-2048 key with e = 65537 passes', async () => {
    expect(good.exponent).toBe(65_537n);
    expect(good.bits).toBe(2048);
    expect(await rsaKeyProblem(good)).toBeUndefined();
  });

  it('refuses e = 1, an even exponent, and e below the minimum unless the rule allows it', async () => {
    expect(await rsaKeyProblem(numbers(good.modulus, 1n))).toBe('the RSA public exponent 1 is below the minimum 65537');
    expect(await rsaKeyProblem(numbers(good.modulus, 1n), { minExponent: 3 })).toBe('the RSA public exponent 1 is below the minimum 3');
    expect(await rsaKeyProblem(numbers(good.modulus, 65_538n))).toBe('the RSA public exponent 65538 is even');
    expect(await rsaKeyProblem(numbers(good.modulus, 3n))).toBe('the RSA public exponent 3 is below the minimum 65537');
    expect(await rsaKeyProblem(numbers(good.modulus, 3n), { minExponent: 3 })).toBeUndefined();
    expect(await rsaKeyProblem(numbers(good.modulus, (1n << 256n) + 1n))).toBe('the RSA public exponent is too large');
  });

  it('refuses a modulus with a factor below 10,000, naming the smallest', async () => {
    expect(smallFactor(good.modulus)).toBeUndefined();
    expect(smallFactor(good.modulus * 9973n)).toBe(9973);
    expect(smallFactor(good.modulus * 2n)).toBe(2);
    expect(smallFactor(10_007n * 10_009n)).toBeUndefined(); // both primes above the bound
    expect(await rsaKeyProblem(numbers(good.modulus * 7919n, 65_537n))).toBe('the RSA modulus is divisible by 7919');
    expect(await rsaKeyProblem(numbers(smallFactorKey(3n).n, 65_537n))).toBe('the RSA modulus is divisible by 3');
  });

  it('refuses a prime modulus', async () => {
    const p = generatePrimeSync(1024, { bigint: true });
    expect(await isProbablePrime(p)).toBe(true);
    expect(await isProbablePrime(good.modulus)).toBe(false);
    expect(await rsaKeyProblem(numbers(p, 65_537n))).toBe('the RSA modulus is a prime (anyone can compute its private key)');
  });

  it('refuses a perfect square (p = q)', () => {
    const q = generatePrimeSync(1024, { bigint: true });
    expect(perfectSquareRoot(q * q)).toBe(q);
    expect(perfectSquareRoot(q * q + 2n * q)).toBeUndefined(); // (q+1)² − 1
    expect(perfectSquareRoot(good.modulus)).toBeUndefined();
    expect(rsaKeyShapeProblem(numbers(q * q, 65_537n))).toBe('the RSA modulus is a perfect square');
  });

  it('the crafted requests verify: only the key checks stand between them and a certificate', () => {
    for (const key of [primeModulusKey(1024), smallFactorKey(3n, 1024), squareModulusKey(1024), exponentOneKey(good.modulus)]) {
      const csr = parseCsr(rawRsaCsr(key));
      expect(verifyCsrSignature(csr)).toBe(true);
      expect(rsaPublicNumbersOfSpki(csr.spki).modulus).toBe(key.n);
    }
  });
});

describe('checkKey with RSA numbers', () => {
  const rsa = profile([{ type: 'rsa', minBits: 2048 }]);

  it('checks the numbers of an allowed RSA key, and says why it is refused', async () => {
    const n = realModulus().modulus;
    expect(await checkKey(rsa, { type: 'rsa', bits: 2048 }, rsaSpki(n, 65_537n))).toBeUndefined();
    expect(await checkKey(rsa, { type: 'rsa', bits: 2048 }, rsaSpki(n, 1n))).toBe('key refused: the RSA public exponent 1 is below the minimum 65537');
  });

  it('minExponent: the most lenient RSA rule the key size falls within applies', async () => {
    const n = realModulus().modulus;
    const lenient = profile([{ type: 'rsa', minBits: 2048, maxBits: 2048, minExponent: 3 }, { type: 'rsa', minBits: 3072 }]);
    expect(await checkKey(lenient, { type: 'rsa', bits: 2048 }, rsaSpki(n, 3n))).toBeUndefined();
    const strict = profile([{ type: 'rsa', minBits: 2048 }, { type: 'rsa', minBits: 1024, maxBits: 1024, minExponent: 3 }]);
    expect(await checkKey(strict, { type: 'rsa', bits: 2048 }, rsaSpki(n, 3n))).toBe('key refused: the RSA public exponent 3 is below the minimum 65537');
  });

  it('maxBits bounds the size, 8192 by default', async () => {
    expect(await checkKey(rsa, { type: 'rsa', bits: 8192 })).toBeUndefined();
    expect(await checkKey(rsa, { type: 'rsa', bits: 8193 })).toBe('key RSA 8193 bits is not allowed by profile "devices" (allowed: RSA 2048–8192 bits)');
    const bounded = profile([{ type: 'rsa', minBits: 2048, maxBits: 4096, minExponent: 3 }]);
    expect(await checkKey(bounded, { type: 'rsa', bits: 4097 })).toBe('key RSA 4097 bits is not allowed by profile "devices" (allowed: RSA 2048–4096 bits, e ≥ 3)');
    expect(describeKeyRule({ type: 'rsa', minBits: 3072, minExponent: 65_537 })).toBe('RSA 3072–8192 bits');
  });
});

describe('TaskGate (bounds the primality tests in the thread pool)', () => {
  it('runs at most max tasks at once, the others in order as slots free up, also after a failure', async () => {
    const gate = new TaskGate(2);
    const started: number[] = [];
    const finish: Array<(ok: boolean) => void> = [];
    const task = (i: number) => gate.run(() => new Promise<number>((resolve, reject) => {
      started.push(i);
      finish[i] = (ok) => (ok ? resolve(i) : reject(new Error(`task ${i}`)));
    }));
    const all = [0, 1, 2, 3].map((i) => task(i).catch((e: Error) => e.message));
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1]);
    finish[1]!(false);
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1, 2]);
    finish[0]!(true);
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1, 2, 3]);
    finish[2]!(true);
    finish[3]!(true);
    expect(await Promise.all(all)).toEqual([0, 'task 1', 2, 3]);
    // the gate is empty again: a new task starts at once
    const again = gate.run(async () => 'free');
    expect(await again).toBe('free');
  });

  it('rsaKeyProblem runs its primality test through the gate', async () => {
    const gate = new TaskGate(1);
    let ran = 0;
    const counting = { run: <T>(t: () => Promise<T>) => { ran++; return gate.run(t); } } as TaskGate;
    expect(await rsaKeyProblem(realModulus(), { gate: counting })).toBeUndefined();
    expect(ran).toBe(1);
  });
});
