#!/usr/bin/env node
/**
 * Micro costs of the crypto on the simpleenroll path, in this process on one core: CSR parse
 * (with key import or point check), CSR signature verify, the CA signature over a TBSCertificate,
 * and a whole local-CA issue. Median µs per operation over several rounds.
 *
 * Then the same steps cold: before each call a sweep over --cold MiB (default 4, twice this
 * machine's L2) evicts the caches, as the TLS handshakes between requests over new connections
 * do in the server. Tight loops keep code and data cached and understate what a request pays.
 *
 * Last, what an RSA request adds (--rsa-bits, default 2048; 0 skips): the RSA key checks of
 * pki/key-checks.ts on the event loop, and the Miller–Rabin test in the thread pool.
 *
 *   node dist/bench/crypto-micro.js [--curve P-256|P-384] [--rounds N] [--ms M] [--cold MiB] [--rsa-bits N]
 *   ESTUARY_NATIVE_CRYPTO=off node dist/bench/crypto-micro.js     # node:crypto only, for A/B
 */
import { generateKeyPairSync, randomBytes, sign as cryptoSign } from 'node:crypto';
import { parseArgs } from 'node:util';
import { median } from './harness.js';
import { createCaHierarchy } from '../ca/ca-setup.js';
import { createLocalCa } from '../ca/local-ca.js';
import { softwareSigner } from '../ca/signers/software-signer.js';
import { signatureSchemeFor, signWith } from '../pki/certificate.js';
import { buildCsr } from '../pki/csr-builder.js';
import { parseCsr, verifyCsrSignature } from '../pki/csr.js';
import { isProbablePrime, rsaKeyShapeProblem, rsaPublicNumbersOfSpki } from '../pki/key-checks.js';
import { nativeCrypto } from '../pki/native-crypto.js';

const { values } = parseArgs({ options: { curve: { type: 'string' }, rounds: { type: 'string' }, ms: { type: 'string' }, cold: { type: 'string' }, 'rsa-bits': { type: 'string' } } });
const curve = values.curve === 'P-384' ? 'P-384' : 'P-256';
const rounds = Number(values.rounds ?? 7);
const roundMs = Number(values.ms ?? 400);
const coldMiB = Number(values.cold ?? 4);
const rsaBits = Number(values['rsa-bits'] ?? 2048);

/** Median µs per call of fn(i) over `rounds` rounds of about roundMs each. */
function measure(fn: (i: number) => unknown): number {
  for (let i = 0; i < 500; i++) fn(i); // warm-up: JIT and caches
  const perOp: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let n = 0;
    const start = process.hrtime.bigint();
    const until = start + BigInt(roundMs) * 1_000_000n;
    let now = start;
    while (now < until) {
      for (let k = 0; k < 100; k++) fn(n++);
      now = process.hrtime.bigint();
    }
    perOp.push(Number(now - start) / 1000 / n);
  }
  return median(perOp);
}

/** Median µs of one call of fn(i) made right after sweeping `mib` MiB of memory. */
function measureCold(fn: (i: number) => unknown, mib: number, calls = 1500): number {
  const sweep = new Uint8Array(mib * 1024 * 1024);
  const evict = (): void => {
    for (let k = 0; k < sweep.length; k += 64) sweep[k]!++;
  };
  const perCall: number[] = [];
  for (let i = 0; i < calls; i++) {
    evict();
    const start = performance.now();
    fn(i);
    perCall.push((performance.now() - start) * 1000);
  }
  return median(perCall);
}

const pool = Array.from({ length: 256 }, (_, i) => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
  return buildCsr({ privateKey, publicKey, subject: `CN=micro-${i}` });
});
const parsed = pool.map((der) => parseCsr(der));
const at = (i: number): number => i & (pool.length - 1);

const { issuing } = createCaHierarchy({ algorithm: curve === 'P-256' ? 'ec-p256' : 'ec-p384', rootName: 'CN=Micro Root', issuingName: 'CN=Micro Issuing', now: new Date(), random: randomBytes });
const scheme = signatureSchemeFor(issuing.key);
const ca = createLocalCa({ id: 'micro', signer: softwareSigner(issuing.key, nativeCrypto), chain: [issuing.der], now: () => new Date(), random: randomBytes });
const tbs = randomBytes(420); // about the size of an end-entity TBSCertificate
const template = { subject: parsed[0]!.subject, spki: parsed[0]!.spki, subjectAltName: undefined, validitySeconds: 30 * 86_400, keyUsage: ['digitalSignature' as const], extendedKeyUsage: [] };
const request = { operation: 'enroll' as const, csr: pool[0]!, template, requestId: 'micro', requester: 'micro' };

const rows: Array<[string, number]> = [
  ['parseCsr', measure((i) => parseCsr(pool[at(i)]!))],
  ['verifyCsrSignature (parsed)', measure((i) => verifyCsrSignature(parsed[at(i)]!))],
  ['parseCsr + verifyCsrSignature', measure((i) => verifyCsrSignature(parseCsr(pool[at(i)]!)))],
  ['CA signature (signWith)', measure(() => signWith(scheme, issuing.key, tbs))],
  ['CA signature (node:crypto sign)', measure(() => cryptoSign(scheme.hash, tbs, { key: issuing.key, dsaEncoding: 'der' }))],
  ['local CA issue (TBS + signature)', measure(() => ca.issue(request))],
];

process.stdout.write(`${curve}, native crypto: ${nativeCrypto.loaded ? 'loaded' : `off (${nativeCrypto.reason})`}, CA signs natively: ${scheme.native ? 'yes' : 'no'}\n`);
const print = (table: Array<[string, number]>): void => {
  for (const [name, us] of table) process.stdout.write(`${name.padEnd(36)} ${us.toFixed(1).padStart(7)} µs  ${Math.round(1e6 / us).toString().padStart(7)}/s\n`);
};
print(rows);

if (coldMiB > 0) {
  process.stdout.write(`\ncold: ${coldMiB} MiB swept before each call (median of 1,500 calls)\n`);
  print([
    ['parseCsr', measureCold((i) => parseCsr(pool[at(i)]!), coldMiB)],
    ['verifyCsrSignature (parsed)', measureCold((i) => verifyCsrSignature(parsed[at(i)]!), coldMiB)],
    ['CA signature (signWith)', measureCold(() => signWith(scheme, issuing.key, tbs), coldMiB)],
    ['local CA issue (TBS + signature)', measureCold(() => ca.issue(request), coldMiB)],
  ]);
}

/** Median µs per awaited call of fn(i), one at a time, over `rounds` rounds of about roundMs each. */
async function measureAsync(fn: (i: number) => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 20; i++) await fn(i);
  const perOp: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let n = 0;
    const start = process.hrtime.bigint();
    const until = start + BigInt(roundMs) * 1_000_000n;
    let now = start;
    while (now < until) {
      await fn(n++);
      now = process.hrtime.bigint();
    }
    perOp.push(Number(now - start) / 1000 / n);
  }
  return median(perOp);
}

if (rsaBits > 0) {
  const rsaPool = Array.from({ length: 8 }, (_, i) => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: rsaBits });
    return buildCsr({ privateKey, publicKey, subject: `CN=micro-rsa-${i}` });
  });
  const numbers = rsaPool.map((der) => rsaPublicNumbersOfSpki(parseCsr(der).spki));
  process.stdout.write(`\nRSA-${rsaBits} requests: what the key checks add (pki/key-checks.ts)\n`);
  const spkis = rsaPool.map((der) => parseCsr(der).spki);
  print([
    ['parseCsr + verifyCsrSignature', measure((i) => verifyCsrSignature(parseCsr(rsaPool[i & 7]!)))],
    ['SPKI → n, e + shape checks (event loop)', measure((i) => rsaKeyShapeProblem(rsaPublicNumbersOfSpki(spkis[i & 7]!)))],
    ['Miller–Rabin (thread pool, awaited)', await measureAsync((i) => isProbablePrime(numbers[i & 7]!.modulus))],
  ]);
}
