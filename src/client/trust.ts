/**
 * How the EST client decides to trust a server (RFC 7030 §3.6) and how it accepts a bootstrap
 * /cacerts answer (RFC 7030 §4.1.1).
 */
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { checkServerIdentity, rootCertificates, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import { toPem } from '../pki/base64.js';
import { OID } from '../pki/oids.js';
import { EstClientError } from './errors.js';

export type Trust =
  | { kind: 'explicit'; anchors: Buffer[] } // DER certs: --ca FILE, or stored after bootstrap
  | { kind: 'implicit' } // the system store, only with --implicit-ta
  | { kind: 'bootstrap'; fingerprintSha256: string } // cacerts only; no credentials ever sent
  | { kind: 'insecure' }; // --insecure: no server validation at all

/** Whether credentials (Basic, a client certificate) may go to a server under this trust. */
export function mayAuthenticate(trust: Trust): boolean {
  // RFC 7030 §4.1.1: during bootstrap the client MUST NOT answer authentication challenges.
  return trust.kind !== 'bootstrap';
}

/** Common places of the operating system's CA bundle (Debian, RHEL, SUSE, Alpine, BSD/macOS). */
const SYSTEM_BUNDLES = [
  '/etc/ssl/certs/ca-certificates.crt',
  '/etc/pki/tls/certs/ca-bundle.crt',
  '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem',
  '/etc/ssl/ca-bundle.pem',
  '/etc/pki/tls/cacert.pem',
  '/etc/ssl/cert.pem',
];

let implicitCache: string[] | undefined;

/**
 * Implicit trust anchors (RFC 7030 §3.6.1): the system store when one is found, plus the
 * Mozilla roots node is built with. SSL_CERT_FILE names another bundle, as with OpenSSL.
 */
export function implicitAnchors(env: NodeJS.ProcessEnv = process.env): string[] {
  if (implicitCache) return implicitCache;
  const candidates = env.SSL_CERT_FILE ? [env.SSL_CERT_FILE, ...SYSTEM_BUNDLES] : SYSTEM_BUNDLES;
  const file = candidates.find((f) => existsSync(f));
  const system = file ? (readFileSync(file, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []) : [];
  implicitCache = [...new Set([...system, ...rootCertificates])];
  return implicitCache;
}

/**
 * RFC 7030 §3.6: the server is identified by RFC 6125 rules against the URL host (node's
 * checkServerIdentity: DNS names with wildcards, IP addresses against iPAddress SANs), or, under
 * explicit trust anchors only (§3.6.1), by the id-kp-cmcRA extended key usage.
 */
export function serverIdentityCheck(trust: Trust): (host: string, cert: PeerCertificate) => Error | undefined {
  return (host, cert) => {
    const mismatch = checkServerIdentity(host, cert);
    if (!mismatch) return undefined;
    if (trust.kind === 'explicit' && (cert.ext_key_usage ?? []).includes(OID.cmcRA)) return undefined;
    return mismatch;
  };
}

/** The TLS options for a trust mode: what node verifies during the handshake. */
export function tlsTrustOptions(trust: Trust): Pick<ConnectionOptions, 'ca' | 'rejectUnauthorized' | 'checkServerIdentity'> {
  switch (trust.kind) {
    case 'explicit':
      if (trust.anchors.length === 0) throw new EstClientError('usage', 'explicit trust needs at least one CA certificate');
      // Only these anchors: node's built-in roots are not consulted when `ca` is given.
      return { ca: trust.anchors.map((d) => toPem('CERTIFICATE', d)), rejectUnauthorized: true, checkServerIdentity: serverIdentityCheck(trust) };
    case 'implicit':
      return { ca: implicitAnchors(), rejectUnauthorized: true, checkServerIdentity: serverIdentityCheck(trust) };
    case 'bootstrap':
    case 'insecure':
      // Bootstrap: the TLS session is provisional; the /cacerts answer is what gets verified.
      return { rejectUnauthorized: false, checkServerIdentity: () => undefined };
  }
}

/** A SHA-256 fingerprint as 64 lower-case hex digits: colons, spaces and case are ignored. */
export function normalizeFingerprint(text: string): string {
  const hex = text.trim().replace(/^sha-?256(\s*fingerprint)?[:=\s]*/i, '').replace(/[\s:]/g, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new EstClientError('usage', `"${text}" is not a SHA-256 fingerprint (64 hex digits, colons allowed)`);
  return hex;
}

export function fingerprintSha256(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex');
}

/** AA:BB:... form for messages. */
export function formatFingerprint(hex: string): string {
  return hex.toUpperCase().match(/../g)!.join(':');
}

function parseCert(der: Buffer, i: number): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch (err) {
    throw new EstClientError('bad-response', `cacerts: certificate ${i + 1} in the answer is not a valid X.509 certificate (${(err as Error).message})`);
  }
}

/** Whether `issuer` is a CA that signed `cert`: names (and key identifiers), CA basicConstraints, signature. */
function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  // checkIssued: subject/issuer names, AKID/SKID, keyCertSign when keyUsage is present.
  if (!issuer.ca || !cert.checkIssued(issuer)) return false;
  try {
    return cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/**
 * RFC 7030 §4.1.1 bootstrap: accept the /cacerts bag only if one CA certificate in it has the
 * fingerprint obtained out of band, and every certificate in the bag chains up to that one
 * (signature, issuer/subject, CA basicConstraints). Returns the bag as sent.
 */
export function verifyBootstrapBag(bag: Buffer[], fingerprint: string): Buffer[] {
  const want = normalizeFingerprint(fingerprint);
  if (bag.length === 0) throw new EstClientError('bad-response', 'cacerts: the answer holds no certificates');
  const certs = bag.map(parseCert);
  const anchorIndex = bag.findIndex((der) => fingerprintSha256(der) === want);
  if (anchorIndex < 0) {
    const got = bag.map((der, i) => `${certs[i]!.subject.replace(/\n/g, ', ')} ${formatFingerprint(fingerprintSha256(der))}`).join('; ');
    throw new EstClientError('tls', `cacerts: no CA certificate has the fingerprint ${formatFingerprint(want)} (the server sent: ${got}); the server is not trusted`);
  }
  const anchor = certs[anchorIndex]!;
  if (!anchor.ca) throw new EstClientError('tls', `cacerts: the certificate with fingerprint ${formatFingerprint(want)} is not a CA certificate`);
  const trusted = new Set<number>([anchorIndex]);
  let progress = true;
  while (progress) {
    progress = false;
    certs.forEach((c, i) => {
      if (trusted.has(i)) return;
      for (const t of trusted) {
        if (issuedBy(c, certs[t]!)) {
          trusted.add(i);
          progress = true;
          return;
        }
      }
    });
  }
  const stray = certs.filter((_, i) => !trusted.has(i));
  if (stray.length > 0) {
    const names = stray.map((c) => c.subject.replace(/\n/g, ', ')).join('; ');
    throw new EstClientError('tls', `cacerts: ${stray.length} certificate(s) do not chain to the fingerprinted CA ${anchor.subject.replace(/\n/g, ', ')}: ${names}`);
  }
  return bag;
}
