/**
 * `estuary ca test`: open a CA connector as the server would (no logger) and check it now. An
 * upstream EST CA is probed (its /cacerts fetched and checked, the RA's credentials presented);
 * a built-in CA's key is matched to its certificate and made to sign a TBSCertificate that is
 * verified and thrown away (never issued, never recorded).
 */
import { createPrivateKey, createPublicKey, randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { closable, reportsHealth, type CaBackend, type ConnectorHealth } from '../ca/ca-backend.js';
import type { LocalCaConfig } from '../ca/connectors/local.js';
import { randomSerial } from '../ca/local-ca.js';
import type { CaConfig } from '../ca/registry.js';
import { softwareSigner } from '../ca/signers/software-signer.js';
import { certificateFields, signCertificateWith } from '../pki/certificate.js';
import { nativeCrypto } from '../pki/native-crypto.js';
import type { Config } from './config.js';
import { certificateSummary, type CertificateSummary } from './ca-views.js';
import { openCa } from './runtime.js';

/** Exit codes of `estuary ca test` besides 0 (healthy) and 2 (usage, configuration). */
export const CA_TEST_EXIT = { unhealthy: 3, credentialsRefused: 4 } as const;

export interface CaTestReport {
  id: string;
  type: string;
  ok: boolean;
  /** One line: why the connector is not usable. */
  reason?: string;
  exitCode: number;
  /** The CA certificates (issuing first). */
  chain: CertificateSummary[];
  checks: Array<{ check: string; ok: boolean; detail?: string }>;
  upstream?: {
    url?: string;
    credentials: ConnectorHealth['credentials'];
    handshakes: number;
    requests: number;
    lastError?: { message: string; at: string };
    /** The chain shown is the copy kept on disk, not a fresh answer. */
    chainFromCache: boolean;
  };
}

async function testUpstream(id: string, ca: CaBackend & { probe(): Promise<ConnectorHealth> }): Promise<CaTestReport> {
  const h = await ca.probe();
  const chain = await ca.chain().catch(() => [] as readonly Buffer[]);
  const report: CaTestReport = {
    id, type: 'est', ok: false, exitCode: CA_TEST_EXIT.unhealthy, chain: chain.map(certificateSummary), checks: [],
    upstream: {
      ...(h.url ? { url: h.url } : {}), credentials: h.credentials ?? 'unknown', handshakes: h.handshakes ?? 0, requests: h.requests ?? 0,
      ...(h.lastError ? { lastError: { message: h.lastError.message, at: h.lastError.at.toISOString() } } : {}),
      chainFromCache: !h.healthy && chain.length > 0,
    },
  };
  const where = h.url ?? id;
  // probe() presents the credentials only once /cacerts was fetched and trusted
  if (h.credentials === 'refused') {
    report.checks.push({ check: 'upstream /cacerts fetched and trusted', ok: true });
    report.checks.push({ check: 'RA credentials accepted', ok: false, ...(h.lastError ? { detail: h.lastError.message } : {}) });
    report.exitCode = CA_TEST_EXIT.credentialsRefused;
    report.reason = `the upstream CA ${where} refused the RA's credentials${h.lastError ? `: ${h.lastError.message}` : ''}`;
    return report;
  }
  if (!h.healthy) {
    report.checks.push({ check: 'upstream /cacerts fetched and trusted', ok: false, detail: h.lastError?.message ?? 'no answer' });
    report.reason = `the upstream CA ${where} is not usable: ${h.lastError?.message ?? 'no answer'}`;
    return report;
  }
  report.checks.push({ check: 'upstream /cacerts fetched and trusted', ok: true });
  report.checks.push({
    check: 'RA credentials accepted', ok: true,
    ...(h.credentials === 'unknown' ? { detail: 'not confirmed: the upstream answered the credential probe in a way that tells neither' } : {}),
  });
  report.ok = true;
  report.exitCode = 0;
  return report;
}

async function testLocal(id: string, c: LocalCaConfig, ca: CaBackend, now: Date): Promise<CaTestReport> {
  const chain = await ca.chain();
  const checks: CaTestReport['checks'] = [];
  const issuing = new X509Certificate(chain[0]!);
  const key = createPrivateKey(readFileSync(c.key));
  const spki = certificateFields(chain[0]!).spki;
  const matches = createPublicKey(key).export({ type: 'spki', format: 'der' }).equals(spki);
  checks.push({ check: 'key matches the CA certificate', ok: matches, ...(matches ? {} : { detail: `${c.key} is not the key of ${c.certificate}` }) });
  checks.push({ check: 'CA certificate (basicConstraints cA)', ok: issuing.ca });
  const current = now >= new Date(issuing.validFrom) && now <= new Date(issuing.validTo);
  checks.push({ check: 'CA certificate currently valid', ok: current, ...(current ? {} : { detail: `valid ${new Date(issuing.validFrom).toISOString()} to ${new Date(issuing.validTo).toISOString()}` }) });
  // RFC 5280 §6.1: each certificate of the chain is signed by the next; the last is the root.
  const parsed = chain.map((d) => new X509Certificate(d));
  const broken = parsed.findIndex((cert, i) => {
    const issuer = parsed[i + 1] ?? cert;
    return !(cert.checkIssued(issuer) && cert.verify(issuer.publicKey));
  });
  checks.push({ check: 'chain links up to a self-signed root', ok: broken < 0, ...(broken < 0 ? {} : { detail: `certificate ${broken + 1} (${parsed[broken]!.subject.replace(/\n/g, ', ')}) is not signed by the next` }) });
  if (matches) {
    // A TBSCertificate signed by the signer the connector uses, verified, and dropped.
    const fields = certificateFields(chain[0]!);
    const der = await signCertificateWith({ serial: randomSerial(randomBytes), issuer: fields.subject, notBefore: now, notAfter: now, subject: fields.subject, spki, extensions: [] }, softwareSigner(key, nativeCrypto));
    const verified = new X509Certificate(der).verify(issuing.publicKey) && ca.issued(der);
    checks.push({ check: 'signs a test TBSCertificate that verifies', ok: verified });
  }
  const failed = checks.find((x) => !x.ok);
  return {
    id, type: 'local', ok: !failed, exitCode: failed ? CA_TEST_EXIT.unhealthy : 0, chain: chain.map(certificateSummary), checks,
    ...(failed ? { reason: `${failed.check}: failed${failed.detail ? ` (${failed.detail})` : ''}` } : {}),
  };
}

/** Open, check and close the connector `id`. */
export async function testConnector(id: string, c: CaConfig, config: Config): Promise<CaTestReport> {
  const ca = openCa(id, c, config.crl.publicUrl, config.ocsp);
  try {
    if (reportsHealth(ca)) return await testUpstream(id, ca);
    if (c.type === 'local') return await testLocal(id, c, ca, new Date());
    throw new Error(`cas.${id}: a ${c.type} connector that reports no health`);
  } finally {
    if (closable(ca)) await ca.close();
  }
}
