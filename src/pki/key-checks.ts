/**
 * Sanity checks on RSA public keys before they are certified: what a signature verification does
 * not catch. A CSR signed with e = 1 verifies (the signature is the padded digest itself), and so
 * does one whose modulus is a prime (d = e⁻¹ mod p−1), yet neither key protects anything.
 *
 * NIST SP 800-89 §5.3.3 (RSA public key partial validation): n odd, not prime, not a power of a
 * prime, without small factors; e odd and 2^16 < e < 2^256 (FIPS 186-5 §5.4). The exponent minimum
 * is a profile choice (≥ 3 for legacy devices). Cost (`node dist/bench/crypto-micro.js`): the
 * checks on the event loop take about as long as the CSR's parse and signature verification for
 * RSA-2048 (~0.1–0.3 ms, mostly trial division); the primality test is OpenSSL's Miller–Rabin, which stops
 * after one round for a composite (≈ one RSA private operation without CRT) and runs in the libuv
 * thread pool, so it never blocks the event loop. Only a prime modulus costs all of OpenSSL's rounds.
 */
import { checkPrime } from 'node:crypto';
import { children, DerError, expectTag, readTop, TAG, value } from './der.js';

export interface RsaPublicNumbers {
  modulus: bigint;
  exponent: bigint;
  bits: number;
}

/** The default lower bound of the public exponent (FIPS 186-5 §5.4: e > 2^16). */
export const DEFAULT_MIN_RSA_EXPONENT = 65_537;
/** The default upper bound of an RSA modulus a profile certifies. */
export const DEFAULT_MAX_RSA_BITS = 8192;
/** Trial division by every prime below this bound. */
export const SMALL_PRIME_BOUND = 10_000;
/** FIPS 186-5 §5.4 / SP 800-89: e < 2^256. */
const MAX_EXPONENT = 1n << 256n;

const toBigInt = (b: Buffer): bigint => (b.length === 0 ? 0n : BigInt(`0x${b.toString('hex')}`));

/** n and e of an RSA SubjectPublicKeyInfo (RFC 8017 §A.1.1 RSAPublicKey inside the BIT STRING). */
export function rsaPublicNumbersOfSpki(spki: Buffer): RsaPublicNumbers {
  const [, bits] = children(spki, expectTag(readTop(spki), TAG.SEQUENCE, 'SubjectPublicKeyInfo'));
  const keyBits = value(spki, expectTag(bits, TAG.BIT_STRING, 'subjectPublicKey'));
  if (keyBits[0] !== 0) throw new DerError('subjectPublicKey has unused bits');
  return rsaPublicNumbers(keyBits.subarray(1));
}

/** n and e of an RSAPublicKey (RFC 8017 §A.1.1). */
export function rsaPublicNumbers(rsaPublicKey: Buffer): RsaPublicNumbers {
  const [n, e] = children(rsaPublicKey, expectTag(readTop(rsaPublicKey), TAG.SEQUENCE, 'RSAPublicKey'));
  const nBytes = value(rsaPublicKey, expectTag(n, TAG.INTEGER, 'modulus'));
  const eBytes = value(rsaPublicKey, expectTag(e, TAG.INTEGER, 'publicExponent'));
  const modulus = toBigInt(nBytes);
  return { modulus, exponent: toBigInt(eBytes), bits: modulus.toString(2).length };
}

function primesBelow(bound: number): number[] {
  const sieve = new Uint8Array(bound);
  const out: number[] = [];
  for (let i = 2; i < bound; i++) {
    if (sieve[i]) continue;
    out.push(i);
    for (let j = i * i; j < bound; j += i) sieve[j] = 1;
  }
  return out;
}

/** The small primes in batches whose product stays below 2^53, so that the remainder is a Number. */
interface Batch {
  product: bigint;
  primes: number[];
}

/**
 * The batches in groups whose product is about GROUP_BITS: n is reduced once per group, and the
 * batches work on that short remainder (a two-level remainder tree; measured 10–30% faster than
 * reducing the whole modulus per batch: each of the ~290 BigInt reductions has a fixed cost).
 */
const GROUP_BITS = 512;
const GROUPS: { product: bigint; batches: Batch[] }[] = (() => {
  const batches: Batch[] = [];
  let primes: number[] = [];
  let product = 1;
  for (const p of primesBelow(SMALL_PRIME_BOUND)) {
    if (product * p > Number.MAX_SAFE_INTEGER) {
      batches.push({ product: BigInt(product), primes });
      primes = [];
      product = 1;
    }
    primes.push(p);
    product *= p;
  }
  if (primes.length) batches.push({ product: BigInt(product), primes });
  const groups: { product: bigint; batches: Batch[] }[] = [];
  for (const batch of batches) {
    const last = groups.at(-1);
    if (last && last.product.toString(2).length + 53 <= GROUP_BITS) {
      last.product *= batch.product;
      last.batches.push(batch);
    } else {
      groups.push({ product: batch.product, batches: [batch] });
    }
  }
  return groups;
})();

/** The smallest prime below SMALL_PRIME_BOUND that divides n, if any. */
export function smallFactor(n: bigint): number | undefined {
  for (const group of GROUPS) {
    const g = n % group.product;
    for (const batch of group.batches) {
      const r = Number(g % batch.product);
      for (const p of batch.primes) if (r % p === 0) return p;
    }
  }
  return undefined;
}

export interface RsaCheckOptions {
  minExponent?: number;
  /** Runs the primality test; a TaskGate bounds how many run at once (default: unbounded). */
  gate?: TaskGate;
}

/**
 * At most `max` tasks at a time, the others wait in order. Bounds the primality tests in the
 * thread pool (4 threads by default, shared with scrypt, key generation and file I/O): a prime
 * "modulus" costs OpenSSL's full Miller–Rabin rounds (seconds for 8192 bits), and a client
 * sending such keys must not hold every thread.
 */
export class TaskGate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly max: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next(); // the slot passes on
      else this.running--;
    }
  }
}

/**
 * Undefined when the RSA public key passes; otherwise what is wrong with it. Size limits are the
 * profile's business (profile-policy.ts); this is about keys no profile should certify.
 */
export async function rsaKeyProblem(key: RsaPublicNumbers, options: RsaCheckOptions = {}): Promise<string | undefined> {
  const cheap = rsaKeyShapeProblem(key, options);
  if (cheap) return cheap;
  // SP 800-89 §5.3.3: the modulus is composite. A prime "RSA modulus" verifies its own
  // signatures (d = e⁻¹ mod n−1) and its private key follows from the public one.
  const prime = options.gate ? await options.gate.run(() => isProbablePrime(key.modulus)) : await isProbablePrime(key.modulus);
  if (prime) return 'the RSA modulus is a prime (anyone can compute its private key)';
  return undefined;
}

/** The checks that need no modular exponentiation: exponent, small factors, a square modulus. */
export function rsaKeyShapeProblem(key: RsaPublicNumbers, options: RsaCheckOptions = {}): string | undefined {
  const minExponent = BigInt(options.minExponent ?? DEFAULT_MIN_RSA_EXPONENT);
  const { modulus: n, exponent: e } = key;
  // SP 800-89 §5.3.3 / FIPS 186-5 §5.4: e odd, within bounds
  if (e % 2n === 0n) return `the RSA public exponent ${e} is even`;
  if (e < minExponent) return `the RSA public exponent ${e} is below the minimum ${minExponent}`;
  if (e >= MAX_EXPONENT || e >= n) return 'the RSA public exponent is too large';
  // SP 800-89 §5.3.3: no factor smaller than 752; we divide by every prime below SMALL_PRIME_BOUND
  const factor = smallFactor(n);
  if (factor !== undefined) return `the RSA modulus is divisible by ${factor}`;
  // SP 800-89 §5.3.3: not a power of a prime (n = p² makes φ(n) = p(p−1) public)
  if (perfectSquareRoot(n) !== undefined) return 'the RSA modulus is a perfect square';
  return undefined;
}

/** OpenSSL's probable-prime test (BN_check_prime), in the thread pool. */
export function isProbablePrime(n: bigint): Promise<boolean> {
  return new Promise((resolve, reject) => checkPrime(n, (err, prime) => (err ? reject(err) : resolve(prime))));
}

/**
 * The square root of n when n is a perfect square. Of the prime powers SP 800-89 §5.3.3 rules out,
 * p² (p = q, a key generator that drew the same prime twice) is the one broken generators make;
 * higher powers would cost a root per exponent on every request for a key nobody makes by accident.
 */
export function perfectSquareRoot(n: bigint): bigint | undefined {
  // quadratic residues modulo 64 and 63 rule out most non-squares without a root (Cohen §1.7.2)
  if (!SQUARE_MOD_64[Number(n & 63n)] || !SQUARE_MOD_63[Number(n % 63n)]) return undefined;
  const r = integerRoot(n, 2n, n.toString(2).length);
  return r * r === n ? r : undefined;
}

const residues = (m: number): boolean[] => {
  const out = new Array<boolean>(m).fill(false);
  for (let i = 0; i < m; i++) out[(i * i) % m] = true;
  return out;
};
const SQUARE_MOD_64 = residues(64);
const SQUARE_MOD_63 = residues(63);

/**
 * floor(n^(1/k)) by Newton's method, started just above the root from a floating-point estimate
 * (53 significant bits of n), so that a handful of steps suffice.
 */
function integerRoot(n: bigint, k: bigint, bits: number): bigint {
  const shift = Math.max(0, bits - 53);
  const rootLog = (shift + Math.log2(Number(n >> BigInt(shift)))) / Number(k);
  const whole = Math.floor(rootLog);
  let x = whole < 52
    ? BigInt(Math.ceil(2 ** rootLog)) + 1n
    : BigInt(Math.ceil(2 ** (rootLog - whole + 52))) << BigInt(whole - 52);
  x += (x >> 30n) + 1n; // above the root despite rounding: Newton then decreases monotonically
  for (;;) {
    const y = ((k - 1n) * x + n / x ** (k - 1n)) / k;
    if (y >= x) return x;
    x = y;
  }
}
