/**
 * The private key of a serverkeygen answer (RFC 7030 §4.4.2), as PKCS#8, from whatever the server
 * sent: PKCS#8 as the RFC says; PKCS#1 RSAPrivateKey or SEC 1 ECPrivateKey labelled
 * application/pkcs8 (seen in the field); or CMS EnvelopedData, either holding a SignedData of an
 * AsymmetricKeyPackage (RFC 5958 §4, whose signer must be this server or chain to the trust
 * anchors) or, from older servers, the bare key. What was tolerated is said in `warnings`.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { EnvelopeError } from '../pki/enveloped-data.js';
import { KeyPackageError, openServerGeneratedKey } from '../pki/key-package.js';
import { EstClientError } from './errors.js';
import type { ServerKey } from './responses.js';
import type { Trust } from './trust.js';

export interface NormalizedKey {
  pkcs8: Buffer;
  privateKey: KeyObject;
  /** Set when the key came in another wrapper than PKCS#8. */
  warning: string | undefined;
}

/**
 * A private key in DER as PKCS#8: PKCS#8 as it is; PKCS#1 RSAPrivateKey (RFC 8017 §A.1.2) and
 * SEC 1 ECPrivateKey (RFC 5915, with its curve parameters) converted. Undefined when it is none.
 */
export function normalizePrivateKeyDer(der: Buffer, what: string): NormalizedKey | undefined {
  const forms = [
    { type: 'pkcs8', name: '' },
    { type: 'pkcs1', name: 'a PKCS#1 RSAPrivateKey' },
    { type: 'sec1', name: 'a SEC 1 ECPrivateKey' },
  ] as const;
  for (const form of forms) {
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey({ key: der, format: 'der', type: form.type });
    } catch {
      continue;
    }
    const pkcs8 = form.type === 'pkcs8' ? der : privateKey.export({ type: 'pkcs8', format: 'der' });
    const warning = form.type === 'pkcs8' ? undefined : `${what}: the server sent ${form.name} where RFC 7030 §4.4.2 asks for PKCS#8; converted to PKCS#8`;
    return { pkcs8, privateKey, warning };
  }
  return undefined;
}

export interface OpenServerKeyOptions {
  /** The TLS client certificate and key the key was encrypted to (RFC 7030 §4.4.1.2). */
  recipient?: { cert: Buffer; key: KeyObject };
  /** The server's TLS certificate, as the client verified it in the handshake. */
  serverCertificate?: Buffer;
  trust: Trust;
}

export interface OpenedKey {
  pkcs8: Buffer;
  privateKey: KeyObject;
  warnings: string[];
}

/** Whether `cert` chains to one of `anchors`, through `intermediates` (signatures, names, CA flags, validity). */
function chainsTo(cert: X509Certificate, intermediates: X509Certificate[], anchors: X509Certificate[], now: Date): boolean {
  const valid = (c: X509Certificate): boolean => new Date(c.validFrom) <= now && now <= new Date(c.validTo);
  let current = cert;
  for (let depth = 0; depth < 8; depth++) {
    if (!valid(current)) return false;
    const signedBy = (issuer: X509Certificate): boolean => issuer.ca && current.checkIssued(issuer) && current.verify(issuer.publicKey);
    if (anchors.some((a) => a.raw.equals(current.raw) || signedBy(a))) return true;
    const next = intermediates.find((i) => !i.raw.equals(current.raw) && signedBy(i));
    if (!next) return false;
    current = next;
  }
  return false;
}

/**
 * RFC 7030 §4.4.2: the signer of an encrypted key package is "the party that generated the
 * private key": accepted when it is the server's own TLS certificate (verified by the handshake
 * under this trust) or when it chains to the explicit trust anchors.
 */
function signerTrusted(signer: Buffer, certificates: Buffer[], o: OpenServerKeyOptions, now: Date): boolean {
  if (o.trust.kind === 'bootstrap' || o.trust.kind === 'insecure') return false;
  if (o.serverCertificate && signer.equals(o.serverCertificate)) return true;
  if (o.trust.kind !== 'explicit') return false;
  const anchors = o.trust.anchors.map((d) => new X509Certificate(d));
  return chainsTo(new X509Certificate(signer), certificates.map((d) => new X509Certificate(d)), anchors, now);
}

/** The serverkeygen private key as PKCS#8, opened and checked as described above. */
export async function openServerKey(key: ServerKey, o: OpenServerKeyOptions, now: Date = new Date()): Promise<OpenedKey> {
  const what = 'serverkeygen';
  const warnings: string[] = [];
  let der = key.der;
  if (key.kind === 'enveloped') {
    if (!o.recipient) throw new EstClientError('bad-response', `${what}: the server encrypted the key although it was not asked to`);
    let opened;
    try {
      opened = await openServerGeneratedKey(key.der, o.recipient.cert, o.recipient.key);
    } catch (err) {
      if (err instanceof KeyPackageError || err instanceof EnvelopeError) throw new EstClientError('bad-response', `${what}: ${err.message}`);
      throw err;
    }
    if (opened.signed) {
      const signer = new X509Certificate(opened.signed.signerCertificate);
      if (!signerTrusted(opened.signed.signerCertificate, opened.signed.certificates, o, now)) {
        if (o.trust.kind !== 'insecure') {
          throw new EstClientError('bad-response', `${what}: the key package is signed by "${signer.subject.replace(/\n/g, ', ')}", which is neither this server's TLS certificate nor chains to the trust anchors`);
        }
        warnings.push(`${what}: the key package signer "${signer.subject.replace(/\n/g, ', ')}" is not verified (--insecure)`);
      }
    } else {
      warnings.push(`${what}: the encrypted key is not signed (RFC 7030 §4.4.2 asks for a SignedData inside the EnvelopedData); only the TLS connection vouches for it`);
    }
    der = opened.pkcs8;
  }
  const normalized = normalizePrivateKeyDer(der, what);
  if (!normalized) throw new EstClientError('bad-response', `${what}: the private key part is not a PKCS#8, PKCS#1 or SEC 1 private key`);
  if (normalized.warning) warnings.push(normalized.warning);
  return { pkcs8: normalized.pkcs8, privateKey: normalized.privateKey, warnings };
}
