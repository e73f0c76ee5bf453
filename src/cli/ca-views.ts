/**
 * What `estuary ca list|show` print about a CA connector: its settings as estuary.yaml holds them
 * (never a password: only the file or variable it comes from; key files by path only), and what
 * the files they name hold (subjects, validity, SHA-256 fingerprints).
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { EstCaConfig } from '../ca/connectors/est.js';
import type { LocalCaConfig } from '../ca/connectors/local.js';
import { connectorAdmin, type CaConfig } from '../ca/registry.js';
import { fingerprintSha256 } from '../client/trust.js';
import { pemBlocks } from '../pki/base64.js';
import { oidName } from '../pki/oids.js';
import type { Profile } from '../ra/model.js';
import { CONFIG_FILE, urlHost, type Config } from './config.js';

export interface CertificateSummary {
  subject: string;
  issuer: string;
  notBefore: string;
  notAfter: string;
  /** Lower-case hex SHA-256 of the DER certificate. */
  sha256: string;
}

/** A file's certificates, or why they cannot be read. */
export interface CertificateFile {
  file: string;
  certificates: CertificateSummary[];
  error?: string;
}

const oneLine = (name: string): string => name.replace(/\n/g, ', ');

export function certificateSummary(der: Buffer): CertificateSummary {
  const c = new X509Certificate(der);
  return {
    subject: oneLine(c.subject), issuer: oneLine(c.issuer),
    notBefore: new Date(c.validFrom).toISOString(), notAfter: new Date(c.validTo).toISOString(), sha256: fingerprintSha256(der),
  };
}

export function certificateFile(file: string, first = false): CertificateFile {
  try {
    const blocks = pemBlocks(readFileSync(file, 'utf8'));
    if (blocks.length === 0) return { file, certificates: [], error: 'no PEM certificate in it' };
    return { file, certificates: (first ? blocks.slice(0, 1) : blocks).map(certificateSummary) };
  } catch (err) {
    return { file, certificates: [], error: (err as NodeJS.ErrnoException).code ?? (err as Error).message };
  }
}

/** `cas.<id>` as written in estuary.yaml (the schema has no place for a password). */
export function rawSettings(home: string, id: string): unknown {
  const doc = parse(readFileSync(join(home, CONFIG_FILE), 'utf8')) as { cas?: Record<string, unknown> };
  return doc.cas?.[id];
}

export function profilesUsing(profiles: readonly Profile[], id: string): string[] {
  return profiles.filter((p) => p.ca === id).map((p) => p.label);
}

/** Where the connector issues from, in one line: the upstream's URL, or the CA certificate's subject. */
export function connectorTarget(c: CaConfig): string {
  switch (c.type) {
    case 'est':
      return c.label ? `${c.url} (label ${c.label})` : c.url;
    case 'local': {
      const f = certificateFile(c.certificate, true);
      return f.certificates[0]?.subject ?? `(cannot read ${c.certificate}: ${f.error})`;
    }
  }
}

export function listRow(id: string, c: CaConfig, profiles: readonly Profile[]): Record<string, unknown> {
  return { id, type: c.type, kind: connectorAdmin(c).label, target: connectorTarget(c), profiles: profilesUsing(profiles, id) };
}

function localView(id: string, c: LocalCaConfig, config: Config): Record<string, unknown> {
  const issuing = certificateFile(c.certificate, true);
  const cert = issuing.certificates[0];
  const crlServed = config.crl.listen ? `http://${urlHost(config.crl.listen.host)}:${config.crl.listen.port}/crl/${id}.crl` : null;
  return {
    subject: cert?.subject ?? null,
    validity: cert ? { notBefore: cert.notBefore, notAfter: cert.notAfter } : null,
    certificate: issuing,
    key: c.key,
    chain: c.chain.map((f) => certificateFile(f)),
    crl: {
      // RFC 5280 §4.2.1.13: only a public URL goes into the certificates' CRL distribution points
      inCertificates: config.crl.publicUrl ? `${config.crl.publicUrl}/${id}.crl` : null,
      servedAt: crlServed,
      ...(config.crl.deltaValidityHours !== undefined && config.crl.publicUrl ? { delta: `${config.crl.publicUrl}/${id}-delta.crl` } : {}),
    },
    ocsp: config.ocsp.publicUrl ? `${config.ocsp.publicUrl}/${id}` : null,
  };
}

function raCertificate(file: string): Record<string, unknown> {
  const read = certificateFile(file, true);
  if (read.error || !read.certificates[0]) return { file, error: read.error };
  const c = new X509Certificate(pemBlocks(readFileSync(file, 'utf8'))[0]!);
  // RFC 7030 §3.7: an RA authenticating by certificate carries id-kp-cmcRA
  const eku = (c.keyUsage ?? []).map(oidName);
  return { file, ...read.certificates[0], extendedKeyUsage: eku, cmcRA: eku.includes('cmcRA') };
}

function estView(c: EstCaConfig): Record<string, unknown> {
  const basic = c.auth.basic;
  const cached = existsSync(c.cacheFile) ? certificateFile(c.cacheFile) : undefined;
  return {
    url: c.url,
    label: c.label ?? null,
    trust: c.bootstrapFingerprint !== undefined
      ? { bootstrapFingerprint: c.bootstrapFingerprint }
      : { trustAnchors: c.trustAnchors.map((f) => certificateFile(f)) },
    auth: {
      mode: [basic ? 'basic' : '', c.auth.certificate ? 'ra-certificate' : ''].filter(Boolean).join('+'),
      ...(basic ? { basic: { user: basic.user, ...(basic.passwordFile ? { passwordFile: basic.passwordFile } : { passwordEnv: basic.passwordEnv }) } } : {}),
      ...(c.auth.certificate ? { raCertificate: raCertificate(c.auth.certificate), raKey: c.auth.key } : {}),
    },
    reenroll: c.reenroll,
    serverKeygen: c.serverKeygen,
    timeoutSeconds: c.timeoutSeconds,
    maxConnections: c.maxConnections,
    refreshMinutes: c.refreshMinutes,
    retryAfterSeconds: c.retryAfterSeconds,
    upstreamChain: cached
      ? { ...cached, fetchedAt: statSync(c.cacheFile).mtime.toISOString() }
      : { file: c.cacheFile, certificates: [], error: 'not fetched yet (the server, or "estuary ca test", keeps a copy here)' },
  };
}

/** Everything `estuary ca show` says about one connector. */
export function showView(id: string, c: CaConfig, config: Config, profiles: readonly Profile[]): Record<string, unknown> {
  const details = ((): Record<string, unknown> => {
    switch (c.type) {
      case 'est':
        return estView(c);
      case 'local':
        return localView(id, c, config);
    }
  })();
  return { id, type: c.type, kind: connectorAdmin(c).label, profiles: profilesUsing(profiles, id), settings: rawSettings(config.home, id), ...details };
}
