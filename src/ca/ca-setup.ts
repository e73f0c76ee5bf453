/** Creation of the built-in CA hierarchy and the TLS server certificate (`estuary init`). */
import { statSync } from 'node:fs';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import {
  authorityKeyIdentifierValue, extension, extKeyUsageValue, keyIdentifier, keyUsageValue,
  signatureSchemeFor, signCertificate, signCertificateWith, certificateFields, type TbsSigner,
} from '../pki/certificate.js';
import { DER_TRUE, octets, seq, seqOf, smallInteger, tlv } from '../pki/der.js';
import { encodeName } from '../pki/names.js';
import { OID } from '../pki/oids.js';
import { randomSerial } from './local-ca.js';

export const KEY_ALGORITHMS = ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096'] as const;
export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];

export interface KeyAndCert {
  key: KeyObject;
  der: Buffer;
}

export function generateKey(algorithm: KeyAlgorithm): KeyObject {
  switch (algorithm) {
    case 'ec-p256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    case 'ec-p384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    case 'rsa-2048':
    case 'rsa-3072':
    case 'rsa-4096':
      return generateKeyPairSync('rsa', { modulusLength: Number(algorithm.slice(4)) }).privateKey;
  }
}

function spkiOf(key: KeyObject): Buffer {
  return createPublicKey(key).export({ type: 'spki', format: 'der' });
}

const YEAR_MS = 365 * 86_400_000;

interface CaCertOptions {
  subject: string;
  key: KeyObject;
  issuer: KeyAndCert | undefined;
  pathLen: number | undefined;
  years: number;
  now: Date;
  random: (n: number) => Buffer;
}

function caCertificate(o: CaCertOptions): Buffer {
  const spki = spkiOf(o.key);
  const subject = encodeName(o.subject);
  const ski = keyIdentifier(spki);
  const issuerFields = o.issuer ? certificateFields(o.issuer.der) : undefined;
  const signer = o.issuer?.key ?? o.key;
  const bc = o.pathLen === undefined ? seq(DER_TRUE) : seq(DER_TRUE, smallInteger(o.pathLen));
  const extensions = [
    extension(OID.basicConstraints, true, bc),
    extension(OID.keyUsage, true, keyUsageValue(['digitalSignature', 'keyCertSign', 'cRLSign'])),
    extension(OID.subjectKeyIdentifier, false, octets(ski)),
  ];
  if (issuerFields) {
    extensions.push(extension(OID.authorityKeyIdentifier, false, authorityKeyIdentifierValue(keyIdentifier(issuerFields.spki))));
  }
  return signCertificate(
    {
      serial: randomSerial(o.random),
      issuer: issuerFields?.subject ?? subject,
      notBefore: new Date(o.now.getTime() - 3600_000),
      notAfter: new Date(o.now.getTime() + o.years * YEAR_MS),
      subject,
      spki,
      extensions,
    },
    signer,
    signatureSchemeFor(signer),
  );
}

export interface HierarchyOptions {
  algorithm: KeyAlgorithm;
  rootName: string;
  issuingName: string;
  now: Date;
  random: (n: number) => Buffer;
}

/** A self-signed root (20 years) and an issuing CA under it (10 years, pathLen 0). */
export function createCaHierarchy(o: HierarchyOptions): { root: KeyAndCert; issuing: KeyAndCert } {
  const rootKey = generateKey(o.algorithm);
  const root = { key: rootKey, der: caCertificate({ subject: o.rootName, key: rootKey, issuer: undefined, pathLen: undefined, years: 20, now: o.now, random: o.random }) };
  const issuingKey = generateKey(o.algorithm);
  const issuing = { key: issuingKey, der: caCertificate({ subject: o.issuingName, key: issuingKey, issuer: root, pathLen: 0, years: 10, now: o.now, random: o.random }) };
  return { root, issuing };
}

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  const [head = '', tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** GeneralNames DER for host names and IP addresses. */
export function hostsToGeneralNames(hosts: readonly string[]): Buffer {
  return seqOf(hosts.map((h) => (isIP(h) ? tlv(0x87, ipBytes(h)) : tlv(0x82, Buffer.from(h, 'latin1')))));
}

export interface TlsCertOptions {
  issuer: KeyAndCert;
  /** The subject after the CN (default "O=Estuary"). */
  organization?: string;
  hosts: readonly string[];
  algorithm: KeyAlgorithm;
  days: number;
  now: Date;
  random: (n: number) => Buffer;
}

/** The TBSCertificate input of a TLS server certificate (serverAuth) for the given host names and addresses. */
function tlsServerInput(o: { issuerDer: Buffer; spki: Buffer; hosts: readonly string[]; algorithm: KeyAlgorithm; days: number; now: Date; random: (n: number) => Buffer; organization?: string }) {
  const issuerFields = certificateFields(o.issuerDer);
  return {
    serial: randomSerial(o.random),
    issuer: issuerFields.subject,
    notBefore: new Date(o.now.getTime() - 3600_000),
    notAfter: new Date(o.now.getTime() + o.days * 86_400_000),
    subject: encodeName(`CN=${o.hosts[0] ?? 'localhost'}, ${o.organization ?? 'O=Estuary'}`),
    spki: o.spki,
    extensions: [
      extension(OID.basicConstraints, true, seq()),
      extension(OID.keyUsage, true, keyUsageValue(o.algorithm.startsWith('rsa') ? ['digitalSignature', 'keyEncipherment'] : ['digitalSignature'])),
      extension(OID.extKeyUsage, false, extKeyUsageValue([OID.serverAuth])),
      extension(OID.subjectKeyIdentifier, false, octets(keyIdentifier(o.spki))),
      extension(OID.authorityKeyIdentifier, false, authorityKeyIdentifierValue(keyIdentifier(issuerFields.spki))),
      extension(OID.subjectAltName, false, hostsToGeneralNames(o.hosts)),
    ],
  };
}

/** A TLS server certificate (serverAuth) for the given host names and addresses. */
export function createTlsServerCertificate(o: TlsCertOptions): KeyAndCert {
  const key = generateKey(o.algorithm);
  const der = signCertificate(tlsServerInput({ ...o, issuerDer: o.issuer.der, spki: spkiOf(key) }), o.issuer.key, signatureSchemeFor(o.issuer.key));
  return { key, der };
}

/** The same, signed through a Signer (a CA key in software or in a PKCS#11 token): `estuary tls issue`. */
export async function issueTlsServerCertificate(o: Omit<TlsCertOptions, 'issuer'> & { issuerDer: Buffer; signer: TbsSigner; organization?: string }): Promise<KeyAndCert> {
  const key = generateKey(o.algorithm);
  const der = await signCertificateWith(tlsServerInput({ ...o, spki: spkiOf(key) }), o.signer);
  return { key, der };
}

/**
 * Why a private key file is exposed, or undefined when only its owner can read it: a key
 * readable by group or others is readable by every account on the host that shares them.
 */
export function keyFileExposure(path: string): string | undefined {
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) === 0) return undefined;
  const who = [mode & 0o070 ? 'group' : '', mode & 0o007 ? 'others' : ''].filter(Boolean).join(' and ');
  return `private key file ${path} is accessible to ${who} (mode ${mode.toString(8).padStart(4, '0')}); fix with: chmod 600 ${path}`;
}
