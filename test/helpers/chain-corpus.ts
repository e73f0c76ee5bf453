/**
 * Certificate chains described as data (anchor → intermediates → leaf), built with @peculiar/x509
 * and hand-written DER for NameConstraints (independent of src/pki), and the verdict of
 * `openssl verify -x509_strict -purpose sslclient` on them. Keys are generated once per level and
 * reused across chains. Every certificate carries SKID/AKID so that OpenSSL's strict mode judges
 * what a chain is about, not the missing identifiers.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { generateKeys, x509 } from './keys.js';

const run = promisify(execFile);
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams;
const DAY = 86_400_000;
export const OIDS = {
  clientAuth: '1.3.6.1.5.5.7.3.2',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  anyEku: '2.5.29.37.0',
  cmcRA: '1.3.6.1.5.5.7.3.28',
  nameConstraints: '2.5.29.30',
  policyConstraints: '2.5.29.36',
  certificatePolicies: '2.5.29.32',
  unknown: '1.3.6.1.4.1.55555.7.1',
} as const;

export type Base = { dns: string } | { email: string } | { uri: string } | { ip: string } | { dn: string };
export interface Constraints {
  permitted?: Base[];
  excluded?: Base[];
}

export interface CertSpec {
  /** Default: "O=Example, CN=Root" / "O=Example, CN=Sub <n>" / "O=Example, OU=Devices, CN=device 01". */
  subject?: string;
  /** Subject equal to the issuer's subject (self-issued, RFC 5280 §6.1: not counted, not constrained). */
  selfIssued?: boolean;
  /** basicConstraints cA (default: true above the leaf); 'none' leaves basicConstraints out. */
  ca?: boolean | 'none';
  pathLen?: number;
  /** KeyUsageFlags (default keyCertSign|cRLSign for CAs, digitalSignature for the leaf), or 'none'. */
  ku?: number | 'none';
  /** Default: clientAuth on the leaf, none on CAs. */
  eku?: string[] | 'none';
  ekuCritical?: boolean;
  sans?: x509.JsonGeneralName[];
  nc?: Constraints;
  /** Further extensions as [oid, critical, DER extnValue]. */
  extra?: [string, boolean, Buffer][];
  /** Validity in days relative to now (default -1 .. +30). */
  from?: number;
  to?: number;
}

export interface ChainSpec {
  anchor?: CertSpec;
  /** Intermediates from the one under the anchor down to the leaf's issuer. */
  intermediates?: CertSpec[];
  leaf?: CertSpec;
}

export interface BuiltChain {
  anchor: Buffer;
  /** Leaf's issuer first (the order a TLS client sends them). */
  intermediates: Buffer[];
  leaf: Buffer;
}

/** A minimal DER writer (lengths up to 64 KiB). */
export function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const len = body.length < 0x80 ? Buffer.from([body.length]) : body.length < 0x100 ? Buffer.from([0x81, body.length]) : Buffer.from([0x82, body.length >> 8, body.length & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
}

function ipBytes(addr: string): number[] {
  if (!addr.includes(':')) return addr.split('.').map(Number);
  const [head, tail] = addr.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]);
}

function generalName(b: Base): Buffer {
  if ('dns' in b) return tlv(0x82, Buffer.from(b.dns, 'latin1'));
  if ('email' in b) return tlv(0x81, Buffer.from(b.email, 'latin1'));
  if ('uri' in b) return tlv(0x86, Buffer.from(b.uri, 'latin1'));
  if ('dn' in b) return tlv(0xa4, Buffer.from(new x509.Name(b.dn).toArrayBuffer()));
  // "10.0.0.0/8" or "fd00::/8": address then mask
  const [addr, bits] = b.ip.split('/') as [string, string];
  const octets = ipBytes(addr);
  const mask = octets.map((_, i) => (0xff << (8 - Math.max(0, Math.min(8, Number(bits) - 8 * i)))) & 0xff);
  return tlv(0x87, Buffer.from([...octets, ...mask]));
}

/** NameConstraints DER written by hand, independently of src/pki. */
export function nameConstraintsDer(c: Constraints): Buffer {
  const subtrees = (tag: number, list: Base[] | undefined): Buffer[] => (list ? [tlv(tag, ...list.map((b) => tlv(0x30, generalName(b))))] : []);
  return tlv(0x30, ...subtrees(0xa0, c.permitted), ...subtrees(0xa1, c.excluded));
}

interface Level {
  keys: CryptoKeyPair;
  skid: x509.SubjectKeyIdentifierExtension;
  akid: x509.AuthorityKeyIdentifierExtension;
}

/** One key per chain position (anchor, intermediate 1, 2, leaf), generated once. */
export async function makeLevels(): Promise<Level[]> {
  return Promise.all(
    [0, 1, 2, 3].map(async () => {
      const keys = await generateKeys('ec-p256');
      return { keys, skid: await x509.SubjectKeyIdentifierExtension.create(keys.publicKey), akid: await x509.AuthorityKeyIdentifierExtension.create(keys.publicKey) };
    }),
  );
}

let serial = 0x1000;

async function build(spec: CertSpec, isCa: boolean, level: Level, issuer: { subject: string; level: Level } | undefined, defaultSubject: string, now: Date): Promise<{ der: Buffer; subject: string }> {
  const subject = spec.selfIssued && issuer ? issuer.subject : (spec.subject ?? defaultSubject);
  const exts: x509.Extension[] = [level.skid];
  if (issuer) exts.push(level === issuer.level ? level.akid : issuer.level.akid);
  const ca = spec.ca ?? isCa;
  if (ca !== 'none') exts.push(new x509.BasicConstraintsExtension(ca, spec.pathLen, true));
  const ku = spec.ku ?? (isCa ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign : x509.KeyUsageFlags.digitalSignature);
  if (ku !== 'none') exts.push(new x509.KeyUsagesExtension(ku, true));
  const eku = spec.eku ?? (isCa ? 'none' : [OIDS.clientAuth]);
  if (eku !== 'none') exts.push(new x509.ExtendedKeyUsageExtension(eku, spec.ekuCritical ?? false));
  if (spec.sans) exts.push(new x509.SubjectAlternativeNameExtension(spec.sans));
  if (spec.nc) exts.push(new x509.Extension(OIDS.nameConstraints, true, new Uint8Array(nameConstraintsDer(spec.nc))));
  for (const [id, critical, der] of spec.extra ?? []) exts.push(new x509.Extension(id, critical, new Uint8Array(der)));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: (serial++).toString(16),
    subject,
    issuer: issuer ? issuer.subject : subject,
    notBefore: new Date(now.getTime() + (spec.from ?? -1) * DAY),
    notAfter: new Date(now.getTime() + (spec.to ?? 30) * DAY),
    publicKey: level.keys.publicKey,
    signingKey: (issuer ?? { level }).level.keys.privateKey,
    signingAlgorithm: SIGN,
    extensions: exts,
  });
  return { der: Buffer.from(cert.rawData), subject };
}

export async function buildChain(spec: ChainSpec, levels: Level[], now: Date): Promise<BuiltChain> {
  const anchor = await build(spec.anchor ?? {}, true, levels[0]!, undefined, 'O=Example, CN=Root', now);
  let issuer = { subject: anchor.subject, level: levels[0]! };
  const inters: Buffer[] = [];
  for (const [i, s] of (spec.intermediates ?? []).entries()) {
    const c = await build(s, true, levels[i + 1]!, issuer, `O=Example, CN=Sub ${i + 1}`, now);
    inters.unshift(c.der);
    issuer = { subject: c.subject, level: levels[i + 1]! };
  }
  const leaf = await build(spec.leaf ?? {}, false, levels[3]!, issuer, 'O=Example, OU=Devices, CN=device 01', now);
  return { anchor: anchor.der, intermediates: inters, leaf: leaf.der };
}

const pem = (der: Buffer): string => `-----BEGIN CERTIFICATE-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;

/** `openssl verify -x509_strict -purpose sslclient` at `now`: true when it accepts, with its output. */
export async function opensslVerdict(chain: BuiltChain, now: Date): Promise<{ ok: boolean; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'estuary-pathdiff-'));
  try {
    await writeFile(join(dir, 'anchor.pem'), pem(chain.anchor));
    await writeFile(join(dir, 'leaf.pem'), pem(chain.leaf));
    const args = ['verify', '-x509_strict', '-purpose', 'sslclient', '-attime', String(Math.floor(now.getTime() / 1000)), '-CAfile', join(dir, 'anchor.pem')];
    if (chain.intermediates.length > 0) {
      await writeFile(join(dir, 'untrusted.pem'), chain.intermediates.map(pem).join(''));
      args.push('-untrusted', join(dir, 'untrusted.pem'));
    }
    args.push(join(dir, 'leaf.pem'));
    try {
      const { stdout, stderr } = await run('openssl', args);
      return { ok: true, output: stdout + stderr };
    } catch (err) {
      const e = err as { code?: number | string; stdout?: string; stderr?: string };
      if (typeof e.code !== 'number') throw err; // openssl missing: fail loudly
      return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Run `fn` over `items`, `width` at a time, keeping order. */
export async function inBatches<T, R>(items: readonly T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}
