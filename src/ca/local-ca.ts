/** The built-in CA: certificates from a DER template, signed by a Signer (a software key under the data directory today). */
import { generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import {
  authorityKeyIdentifierValue, basicConstraintsEndEntity, certificateFields, extension, extKeyUsageValue,
  issuedBy, keyIdentifier, keyUsageValue, serialToHex, signCertificateWith, signedObject, tbsCertificate,
} from '../pki/certificate.js';
import { DER_NULL, octets } from '../pki/der.js';
import { encodeName } from '../pki/names.js';
import { authorityInfoAccessValue } from '../pki/ocsp.js';
import { OID } from '../pki/oids.js';
import type { CaBackend, CrlIssuer, CrlRequest, IssuedCrl, IssueRequest, IssueResult, OcspResponder, OcspSigner } from './ca-backend.js';
import { crlDistributionPointsValue, signCrlWith } from '../pki/crl.js';
import type { Signer } from './signers/signer.js';
import { nodeCryptoSigner } from './signers/software-signer.js';

export interface LocalCaOptions {
  id: string;
  /** Makes the CA's signatures: certificates, CRLs and (ocspSigner: ca) OCSP responses. */
  signer?: Signer;
  /** Shorthand for `signer: nodeCryptoSigner(key)` (tests, benches, CA set-up); one of signer and key is given. */
  key?: KeyObject;
  /** How the generated key of a delegated OCSP responder signs; node:crypto by default. */
  softwareSigner?: (key: KeyObject) => Signer;
  /** Issuing CA certificate first, then its chain up to the root (DER). */
  chain: Buffer[];
  /**
   * RFC 7030 §4.1.3 key rollover: the CA's earlier keys, oldest first, each with its certificate. They
   * keep verifying their certificates (renewal, client authentication) and signing their own CRL.
   */
  previous?: { signer: Signer; certificate: Buffer }[];
  /** The current key issues from this moment; before it, the newest previous key still does. */
  activateAt?: Date;
  /** Certificates /cacerts serves besides the chain: NewWithNew, OldWithNew, NewWithOld. */
  links?: Buffer[];
  now: () => Date;
  random: (bytes: number) => Buffer;
  /**
   * Backdating of notBefore to tolerate client clock skew, in seconds (default 300); at most a
   * tenth of a certificate's validity, so a short-lived certificate's life on paper stays close to
   * its profile's (a renewal agent renewing at 2/3 of a 2-minute life would otherwise be due at once).
   */
  backdateSeconds?: number;
  /** URL of this CA's CRL, put in issued certificates' CRL distribution points when set. */
  crlUrl?: string;
  /** The CRL URL of key generation n > 0 (a rolled-over CA: each key signs its own CRL). */
  crlUrlOf?: (generation: number) => string;
  /** URL of this CA's OCSP responder, put in issued certificates' Authority Information Access when set. */
  ocspUrl?: string;
  /**
   * Who signs OCSP responses: `delegated` (default) an OCSP signing certificate this CA issues when
   * first asked (the runtime asks at startup) and renews at half its life, or the CA key itself.
   */
  ocspSigner?: 'delegated' | 'ca';
}

/** Lifetime of a delegated OCSP responder certificate; a new one is issued at half of it. */
const RESPONDER_DAYS = 30;

/** 16 random bytes, top bit cleared (positive), never a leading zero byte: ≥ 120 bits of entropy. */
export function randomSerial(random: (n: number) => Buffer): Buffer {
  const s = random(16);
  s[0] = (s[0]! & 0x7f) | 0x40;
  return s;
}

/**
 * Random bytes served from a 4 KiB block of the given CSPRNG, refilled when used up: a
 * randomBytes(16) call per certificate was measured at ~9 µs, a slice at well under one.
 */
export function pooledRandom(random: (n: number) => Buffer, blockSize = 4096): (n: number) => Buffer {
  let block: Buffer = Buffer.alloc(0);
  let used = 0;
  return (n) => {
    if (n > blockSize) return random(n);
    if (used + n > block.length) {
      block = random(blockSize);
      used = 0;
    }
    const out = Buffer.from(block.subarray(used, used + n)); // a copy: callers may modify it
    block.fill(0, used, used + n); // handed out bytes are not kept
    used += n;
    return out;
  };
}

/** One key of the CA, with what issuing under it needs. */
interface Generation {
  n: number;
  signer: Signer;
  der: Buffer;
  cert: X509Certificate;
  fields: ReturnType<typeof certificateFields>;
  keyId: Buffer;
  aki: Buffer;
  notAfter: Date;
  cdp: Buffer | undefined;
}

function generation(n: number, signer: Signer, der: Buffer, crlUrl: string | undefined): Generation {
  const fields = certificateFields(der);
  const cert = new X509Certificate(der);
  const keyId = keyIdentifier(fields.spki);
  return {
    n, signer, der: Buffer.from(der), cert, fields, keyId,
    aki: extension(OID.authorityKeyIdentifier, false, authorityKeyIdentifierValue(keyId)),
    notAfter: new Date(cert.validTo),
    cdp: crlUrl ? extension(OID.cRLDistributionPoints, false, crlDistributionPointsValue(crlUrl)) : undefined,
  };
}

export function createLocalCa(options: LocalCaOptions): CaBackend & CrlIssuer & OcspSigner {
  const random = pooledRandom(options.random);
  const [issuerDer] = options.chain;
  if (!issuerDer) throw new Error(`CA ${options.id}: no certificate`);
  const currentSigner = options.signer ?? (options.key ? nodeCryptoSigner(options.key) : undefined);
  if (!currentSigner) throw new Error(`CA ${options.id}: no signer`);
  const softwareSigner = options.softwareSigner ?? nodeCryptoSigner;
  const basicConstraints = basicConstraintsEndEntity();
  const backdateMs = (options.backdateSeconds ?? 300) * 1000;
  const parents = options.chain.slice(1).map((c) => Buffer.from(c));
  const links = (options.links ?? []).map((c) => Buffer.from(c));
  // RFC 7030 §4.1.3: every key of the CA, oldest first; each keeps its certificate, CRL URL and CRL.
  const generations = [...(options.previous ?? []), { signer: currentSigner, certificate: issuerDer }].map((g, n) => generation(n, g.signer, g.certificate, n === 0 ? options.crlUrl : options.crlUrl && options.crlUrlOf?.(n)));
  const current = generations[generations.length - 1]!;
  /** The key that issues now: the newest, or the one before it until activateAt. */
  const active = (now: Date): Generation => (options.activateAt && now < options.activateAt && generations.length > 1 ? generations[generations.length - 2]! : current);
  /** /cacerts: the issuing certificate in use and its chain, then the link certificates and the other keys' certificates. */
  const chainAt = (now: Date): Buffer[] => {
    const a = active(now);
    return [a.der, ...parents, ...links.filter((l) => !l.equals(a.der)), ...generations.filter((g) => g !== a && !links.some((l) => l.equals(g.der))).map((g) => g.der)];
  };
  const aia = options.ocspUrl ? extension(OID.authorityInfoAccess, false, authorityInfoAccessValue(options.ocspUrl)) : undefined;
  let lastCrlNumber = 0n;
  // per key of the CA: a certificate's status is signed by its issuer's key or a responder it certified (RFC 6960 §4.2.2.2)
  const responders = new Map<number, { current: OcspResponder; renewAt: number }>();
  const renewing = new Map<number, Promise<{ current: OcspResponder; renewAt: number }>>();

  /** RFC 6960 §4.2.2.2: a certificate with id-kp-OCSPSigning, issued directly by this CA, with id-pkix-ocsp-nocheck. */
  const delegatedResponder = async (now: Date, g: Generation): Promise<{ current: OcspResponder; renewAt: number }> => {
    const { signer, fields: issuerFields, aki, notAfter: caNotAfter } = g;
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const notBefore = new Date(Math.floor((now.getTime() - backdateMs) / 1000) * 1000);
    let notAfter = new Date(Math.floor(now.getTime() / 1000) * 1000 + RESPONDER_DAYS * 86_400_000);
    if (notAfter > caNotAfter) notAfter = caNotAfter;
    const tbs = tbsCertificate({
      serial: randomSerial(random), issuer: issuerFields.subject, notBefore, notAfter,
      subject: encodeName(`CN=${options.id} OCSP responder`), spki,
      extensions: [
        basicConstraints,
        extension(OID.keyUsage, true, keyUsageValue(['digitalSignature'])),
        extension(OID.extKeyUsage, false, extKeyUsageValue([OID.ocspSigning])),
        // RFC 6960 §4.2.2.2.1: relying parties need not check the responder certificate's status.
        extension(OID.ocspNoCheck, false, DER_NULL),
        extension(OID.subjectKeyIdentifier, false, octets(keyIdentifier(spki))),
        aki,
      ],
    }, signer.algorithmIdentifier);
    const der = signedObject(tbs, signer.algorithmIdentifier, await signer.sign(tbs));
    const own = softwareSigner(privateKey);
    return {
      current: { keyHash: keyIdentifier(spki), certificates: [der], signatureAlgorithm: own.algorithmIdentifier, sign: (data) => own.sign(data) },
      renewAt: notBefore.getTime() + (notAfter.getTime() - notBefore.getTime()) / 2,
    };
  };

  return {
    id: options.id,
    // Held in memory: the certificates of a local CA change only when its configuration does (then it is opened again).
    chain: async () => chainAt(options.now()),
    /** Issued by any of the CA's keys: certificates of an earlier key stay valid, renewable and revocable. */
    issued(certificateDer: Buffer): boolean {
      try {
        const cert = new X509Certificate(certificateDer);
        return generations.some((g) => issuedBy(cert, g.cert));
      } catch {
        return false;
      }
    },
    crlGenerations: () => generations.map((g) => g.n),
    ocspIssuers: () => generations.map((g) => ({ name: g.fields.subject, spki: g.fields.spki })),
    async ocspResponder(now: Date, issuerSpki?: Buffer): Promise<OcspResponder> {
      const g = (issuerSpki && generations.find((x) => x.fields.spki.equals(issuerSpki))) || active(now);
      let responder = responders.get(g.n);
      if (options.ocspSigner === 'ca') {
        const { keyId, signer } = g;
        responder ??= {
          current: { keyHash: keyId, certificates: [], signatureAlgorithm: signer.algorithmIdentifier, sign: (data) => signer.sign(data) },
          renewAt: Infinity,
        };
      } else if (!responder || now.getTime() >= responder.renewAt) {
        // one renewal at a time per key, however many requests arrive meanwhile
        let running = renewing.get(g.n);
        if (!running) {
          running = delegatedResponder(now, g).finally(() => renewing.delete(g.n));
          renewing.set(g.n, running);
        }
        responder = await running;
      }
      responders.set(g.n, responder);
      return responder.current;
    },
    async issueCrl(request: CrlRequest): Promise<IssuedCrl> {
      // cRLNumber from the clock (ms), never repeating within a process: monotonic across restarts
      // without state, and one sequence for complete and delta CRLs (RFC 5280 §5.2.4).
      // Another instance's published number (request.after) counts as issued here too.
      const { thisUpdate } = request;
      const last = request.after !== undefined && request.after > lastCrlNumber ? request.after : lastCrlNumber;
      const number = BigInt(thisUpdate.getTime()) > last ? BigInt(thisUpdate.getTime()) : last + 1n;
      lastCrlNumber = number;
      // each key signs its own CRL (RFC 5280 §5: the AKI names the key); the first key's is /crl/<id>.crl
      const g = generations[request.generation ?? 0];
      if (!g) throw new Error(`CA ${options.id} has no key generation ${request.generation}`);
      const { generation: _n, after: _after, ...rest } = request;
      const input = { issuer: g.fields.subject, authorityKeyId: g.keyId, number, ...rest };
      const der = await signCrlWith(input, g.signer);
      return { der, number };
    },
    /** Signs the RA's template as is; the CSR was checked by the RA. A local CA never answers pending. */
    async issue({ template: request }: IssueRequest): Promise<IssueResult> {
      const now = options.now();
      const { signer, fields: issuerFields, aki, notAfter: caNotAfter, cdp } = active(now);
      const backdate = Math.min(backdateMs, Math.floor(request.validitySeconds / 10) * 1000);
      const notBefore = new Date(Math.floor((now.getTime() - backdate) / 1000) * 1000);
      let notAfter = new Date(Math.floor(now.getTime() / 1000) * 1000 + request.validitySeconds * 1000);
      // RFC 5280 §6: a certificate cannot outlive its issuer usefully; clamp to the CA's notAfter.
      if (notAfter > caNotAfter) notAfter = caNotAfter;
      const serial = randomSerial(random);
      const extensions = [
        basicConstraints,
        extension(OID.keyUsage, true, keyUsageValue(request.keyUsage)),
      ];
      if (request.extendedKeyUsage.length > 0) {
        extensions.push(extension(OID.extKeyUsage, false, extKeyUsageValue(request.extendedKeyUsage)));
      }
      extensions.push(extension(OID.subjectKeyIdentifier, false, octets(keyIdentifier(request.spki))), aki);
      if (request.subjectAltName) {
        // RFC 5280 §4.2.1.6: SAN is critical when the subject is empty.
        const emptySubject = request.subject.length === 2;
        extensions.push(extension(OID.subjectAltName, emptySubject, request.subjectAltName));
      }
      if (cdp) extensions.push(cdp);
      if (aia) extensions.push(aia);
      const der = await signCertificateWith(
        { serial, issuer: issuerFields.subject, notBefore, notAfter, subject: request.subject, spki: request.spki, extensions },
        signer,
      );
      return { status: 'issued', certificate: { der, serialHex: serialToHex(serial), notBefore, notAfter }, chain: chainAt(now) };
    },
  };
}
