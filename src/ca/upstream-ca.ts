/**
 * The upstream EST CA (connector type `est`): Estuary as the RA in front of a CA reached over EST
 * (RFC 7030). The RA has checked the client and the request; this connector forwards the client's
 * CSR unchanged, authenticated as the RA, and checks what comes back before the RA records it.
 * The wire format is the EST client library's (src/client/), over a bounded pool of kept-alive
 * connections, so an enrollment costs no TLS handshake upstream.
 */
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import { EstClient, type EnrollOperation, type SubmitResult } from '../client/est-client.js';
import { EstClientError } from '../client/errors.js';
import { openServerKey } from '../client/server-key.js';
import type { Trust } from '../client/trust.js';
import { certificateFields, extension, issuedBy } from '../pki/certificate.js';
import { parsedCertificate } from '../pki/parsed-certificate.js';
import { buildCsr } from '../pki/csr-builder.js';
import { OID } from '../pki/oids.js';
import type { AttrOrOid } from '../pki/csr-attrs.js';
import { generalNameKey, namesMatch } from '../pki/name-compare.js';
import { nameToString, parseGeneralNames } from '../pki/names.js';
import {
  CaBadAnswerError, CaMisconfiguredError, CaRefusedError, CaUnavailableError,
  type CaBackend, type Closable, type ConnectorHealth, type CsrAttrsSource, type HealthReporting, type IssueRequest, type IssueResult,
} from './ca-backend.js';
import { orderChain } from './chain-order.js';

export interface UpstreamSettings {
  id: string;
  /** https://host[:port][/path] of the upstream EST server, and its label. */
  url: string;
  label: string | undefined;
  /** How the upstream's TLS server certificate is trusted. */
  trust: { kind: 'explicit'; anchors: Buffer[] } | { kind: 'bootstrap'; fingerprintSha256: string };
  basic: { user: string; password: string } | undefined;
  /** The RA certificate (PEM, may hold its chain) and key, for TLS client authentication upstream. */
  clientCert: { certPem: string; keyPem: string } | undefined;
  /** simplereenroll upstream ('forward') or as a simpleenroll ('enroll', for CAs that want the renewed certificate as TLS client certificate). */
  reenroll: 'forward' | 'enroll';
  /** serverkeygen upstream ('forward'), or the RA makes the key and enrolls a CSR it signs ('local'). */
  serverKeygen: 'forward' | 'local';
  timeoutSeconds: number;
  maxConnections: number;
  /** How often /cacerts and /csrattrs are fetched again. */
  refreshMinutes: number;
  /** Retry-After for clients when the upstream cannot be reached and says nothing itself. */
  retryAfterSeconds: number;
  /** The last good /cacerts, kept across restarts (PEM), read at start and written after each fetch. */
  cache: { read(): Buffer[] | undefined; write(certs: readonly Buffer[]): void } | undefined;
}

export interface UpstreamContext {
  now: () => Date;
  logger: Logger | undefined;
}

const OPERATION: Record<IssueRequest['operation'], EnrollOperation> = { enroll: 'simpleenroll', reenroll: 'simplereenroll', serverkeygen: 'serverkeygen' };

export type UpstreamCa = CaBackend & HealthReporting & CsrAttrsSource & Closable & { readonly generatesServerKeys?: true };

export function createUpstreamCa(s: UpstreamSettings, ctx: UpstreamContext): UpstreamCa {
  const state: { certs: Buffer[]; parsed: X509Certificate[]; attrs: AttrOrOid[]; fetchedAt?: Date; lastError?: { message: string; at: Date }; lastSuccessAt?: Date; healthy: boolean } = {
    certs: [], parsed: [], attrs: [], healthy: false,
  };
  const where = `${s.url}${s.label ? ` (label ${s.label})` : ''}`;
  let trust: Trust | undefined = s.trust.kind === 'explicit' ? s.trust : undefined;
  let client: EstClient | undefined;
  let requests = 0;
  let credentials: ConnectorHealth['credentials'] = 'unknown';

  const clientFor = (t: Trust): EstClient => new EstClient({
    server: s.url, ...(s.label ? { label: s.label } : {}), trust: t,
    ...(s.basic ? { basic: s.basic } : {}), ...(s.clientCert ? { clientCert: s.clientCert } : {}),
    timeoutMs: s.timeoutSeconds * 1000, maxConnections: s.maxConnections, now: ctx.now,
  });
  const upstream = (): EstClient => {
    if (!trust) throw new CaUnavailableError(`the upstream CA ${where} is not trusted yet: its /cacerts could not be fetched and checked against the bootstrap fingerprint`, { retryAfterSeconds: s.retryAfterSeconds });
    return (client ??= clientFor(trust));
  };

  const succeeded = (): void => {
    state.healthy = true;
    state.lastSuccessAt = ctx.now();
  };
  const failed = (message: string): void => {
    if (state.healthy || state.lastError?.message !== message) ctx.logger?.warn({ ca: s.id, upstream: where, reason: message }, 'upstream CA connector unhealthy');
    state.healthy = false;
    state.lastError = { message, at: ctx.now() };
  };

  const adopt = (certs: Buffer[]): void => {
    const ordered = orderChain(certs);
    state.certs = ordered;
    state.parsed = ordered.map((d) => new X509Certificate(d));
  };
  const cached = s.cache?.read();
  if (cached && cached.length > 0) adopt(cached);

  /** /cacerts (and /csrattrs) again; on failure the last good copy stays and the connector is unhealthy. */
  async function refresh(): Promise<void> {
    try {
      if (!trust && s.trust.kind === 'bootstrap') {
        // RFC 7030 §4.1.1: no credentials until the CA certificates are verified by the fingerprint; then they are the trust anchors.
        const bootstrap = clientFor(s.trust);
        try {
          trust = { kind: 'explicit', anchors: await bootstrap.cacerts() };
        } finally {
          bootstrap.close();
        }
      }
      const c = upstream();
      const certs = await c.cacerts();
      const before = state.certs;
      adopt(certs);
      state.fetchedAt = ctx.now();
      // the copy on disk is written when the certificates change, not on every refresh or probe
      if (before.length !== state.certs.length || before.some((d, i) => !d.equals(state.certs[i]!))) s.cache?.write(state.certs);
      state.attrs = await c.csrattrs().catch((err: unknown) => {
        ctx.logger?.warn({ ca: s.id, reason: (err as Error).message }, 'upstream /csrattrs could not be read; only the profile\'s attributes are announced');
        return state.attrs;
      });
      succeeded();
    } catch (err) {
      failed(describe(err));
      // A 404 is the connector's url or label (RFC 7030 §3.2.2), not an outage: 502, not 503.
      if (state.certs.length === 0 && err instanceof EstClientError && err.status === 404) {
        throw new CaMisconfiguredError(`the upstream CA ${where} has no cacerts here (404${err.answer?.reason ? `: ${err.answer.reason}` : ''}); check the connector's url and label`, { cause: err });
      }
      if (state.certs.length === 0) throw new CaUnavailableError(`the upstream CA ${where} cannot be reached and no copy of its CA certificates is kept: ${describe(err)}`, { cause: err, retryAfterSeconds: s.retryAfterSeconds });
    }
  }

  let first: Promise<void> | undefined = refresh().catch(() => undefined);
  const timer = setInterval(() => void refresh().catch(() => undefined), Math.max(1, s.refreshMinutes) * 60_000);
  timer.unref();

  async function chain(): Promise<readonly Buffer[]> {
    if (first) {
      await first;
      first = undefined;
    }
    if (state.certs.length === 0) await refresh();
    return state.certs;
  }

  /** The CA certificate among the upstream's that signed `cert`, if any. */
  function issuerOf(cert: X509Certificate): X509Certificate | undefined {
    return state.parsed.find((ca) => ca.ca && issuedBy(cert, ca));
  }

  /** What the upstream's error means for the client (see the connector's README section). */
  function mapError(err: unknown, what: string): Error {
    if (!(err instanceof EstClientError)) return err as Error;
    const status = err.status;
    const reason = err.answer?.reason ?? '';
    // A 2xx answer the RA cannot use (not base64, not PKCS#7, no certificate for the request's key) is not an outage.
    const unusable = err.kind === 'bad-response' && (status === undefined || status < 300);
    if (!unusable && (err.kind === 'network' || err.kind === 'tls' || status === undefined || status >= 500 || status === 429)) {
      failed(err.message);
      return new CaUnavailableError(`the upstream CA ${where} is unavailable: ${err.message}`, { cause: err, retryAfterSeconds: err.answer?.retryAfterSeconds ?? s.retryAfterSeconds });
    }
    succeeded(); // it answered
    // The RA's own credentials are refused: not the client's fault.
    if (status === 401 || status === 407) return new CaMisconfiguredError(`the upstream CA ${where} refused the RA's credentials on ${what}${reason ? `: ${reason}` : ''}`, { cause: err });
    if (status === 404) return new CaMisconfiguredError(`the upstream CA ${where} has no ${what} here (404${reason ? `: ${reason}` : ''}); check the connector's url and label`, { cause: err });
    if (status === 400 || status === 403) return new CaRefusedError(reason ? `the upstream CA refused the request: ${reason}` : `the upstream CA refused the request (${status})`, { cause: err, status });
    if (err.kind === 'bad-response') return new CaBadAnswerError(`the upstream CA ${where} sent an answer the RA cannot use on ${what}: ${err.message}`, { cause: err });
    return new CaMisconfiguredError(`the upstream CA ${where} answered ${what} with ${status}${reason ? `: ${reason}` : ''}`, { cause: err });
  }

  /**
   * The returned certificate must be what the RA admitted: the template's key and subject, no name
   * the RA did not admit, and a signature by one of the upstream's CA certificates. Then the issued result.
   */
  async function checkReturned(req: IssueRequest, der: Buffer, spki: Buffer): Promise<Extract<IssueResult, { status: 'issued' }>> {
    // parsed once: the EST client parsed this very buffer when it read the answer
    const cert = parsedCertificate(der);
    const fields = certificateFields(der);
    if (!fields.spki.equals(spki)) throw new CaBadAnswerError(`the upstream CA ${where} returned a certificate for another public key than the request's`);
    if (!namesMatch(fields.subject, req.template.subject)) {
      throw new CaBadAnswerError(`the upstream CA ${where} returned the subject "${nameToString(fields.subject)}" where the RA admitted "${nameToString(req.template.subject)}"`);
    }
    const admitted = new Set((req.template.subjectAltName ? parseGeneralNames(req.template.subjectAltName) : []).map(generalNameKey));
    const extra = (fields.subjectAltName ? parseGeneralNames(fields.subjectAltName) : []).filter((n) => !admitted.has(generalNameKey(n)));
    if (extra.length > 0) throw new CaBadAnswerError(`the upstream CA ${where} returned names the profile did not admit: ${extra.map(generalNameKey).join(', ')}`);
    if (!issuerOf(cert)) {
      // The upstream may have rolled its CA over: fetch /cacerts again once before refusing.
      await refresh();
      if (!issuerOf(cert)) throw new CaBadAnswerError(`the certificate returned by the upstream CA ${where} does not chain to its /cacerts`);
    }
    return {
      status: 'issued',
      certificate: { der, serialHex: fields.serialHex, notBefore: new Date(cert.validFrom), notAfter: new Date(cert.validTo) },
      chain: state.certs,
    };
  }

  /** serverKeygen: local — a CSR for the RA-generated key, signed by it, with the admitted subject and SAN. */
  function csrForGeneratedKey(req: IssueRequest): Buffer {
    if (!req.generatedKey) throw new Error('serverkeygen through an upstream with serverKeygen: local needs the generated key');
    const privateKey = createPrivateKey({ key: req.generatedKey, format: 'der', type: 'pkcs8' });
    const san = req.template.subjectAltName;
    return buildCsr({
      privateKey, publicKey: createPublicKey(privateKey), subject: req.template.subject,
      // RFC 5280 §4.2.1.6: critical when the subject is empty
      ...(san ? { extraExtensions: [extension(OID.subjectAltName, req.template.subject.length === 2, san)] } : {}),
    });
  }

  /**
   * The RA's credentials, checked without issuing anything: a simpleenroll whose body is an empty
   * SEQUENCE. A server that authenticates before it parses answers 400 (accepted) or 401 (refused).
   */
  async function probeCredentials(): Promise<ConnectorHealth['credentials']> {
    try {
      await upstream().submit('simpleenroll', Buffer.from([0x30, 0x00]));
      return 'unknown';
    } catch (err) {
      const status = err instanceof EstClientError ? err.status : undefined;
      if (status === 401 || status === 407) {
        failed(`the upstream CA refused the RA's credentials (${status}${(err as EstClientError).answer?.reason ? `: ${(err as EstClientError).answer!.reason}` : ''})`);
        return 'refused';
      }
      return status === 400 || status === 403 || status === 415 ? 'accepted' : 'unknown';
    }
  }

  const forwardKeygen = s.serverKeygen === 'forward';

  const ca: UpstreamCa = {
    id: s.id,
    ...(forwardKeygen ? { generatesServerKeys: true as const } : {}),
    chain,
    issued: (der) => {
      try {
        // the RA enrolls end entities: a CA certificate of the upstream's own chain was not issued through this connector
        const cert = new X509Certificate(der);
        return !cert.ca && issuerOf(cert) !== undefined;
      } catch {
        return false;
      }
    },
    async issue(req): Promise<IssueResult> {
      await chain();
      // The copy kept on disk serves /cacerts, but bootstrap trust needs the upstream itself: try now, not at the next refresh.
      if (!trust) await refresh();
      let operation = OPERATION[req.operation];
      let csr = req.csr;
      if (operation === 'simplereenroll' && s.reenroll === 'enroll') operation = 'simpleenroll';
      // serverKeygen: local, or a key the RA made anyway (one to be returned encrypted to the client)
      if (operation === 'serverkeygen' && (!forwardKeygen || req.generatedKey)) {
        operation = 'simpleenroll';
        csr = csrForGeneratedKey(req);
      }
      let answer: SubmitResult;
      try {
        requests++;
        answer = await upstream().submit(operation, csr);
      } catch (err) {
        throw mapError(err, operation);
      }
      succeeded();
      switch (answer.kind) {
        case 'pending':
          // RFC 7030 §4.2.3: the upstream holds it; the client re-sends and the request is forwarded again.
          return { status: 'pending', retryAfterSeconds: answer.retryAfterSeconds ?? s.retryAfterSeconds, reference: `${operation} at ${where}${answer.message ? `: ${answer.message}` : ''}` };
        case 'issued': {
          // the CSR's key, or (serverKeygen: local) the key the RA generated: the template's either way
          return checkReturned(req, answer.result.certificate, req.template.spki);
        }
        case 'issued-with-key': {
          let pkcs8: Buffer;
          try {
            // An upstream that encrypted the key did so to the RA's TLS client certificate: the RA opens it and encrypts for its client itself.
            const opened = await openServerKey(answer.result.privateKey, {
              trust: trust!, ...(answer.result.serverCertificate ? { serverCertificate: answer.result.serverCertificate } : {}),
              ...(s.clientCert ? { recipient: { cert: new X509Certificate(s.clientCert.certPem).raw, key: createPrivateKey(s.clientCert.keyPem) } } : {}),
            }, ctx.now());
            pkcs8 = opened.pkcs8;
          } catch (err) {
            throw new CaBadAnswerError(`the upstream CA ${where} sent a server-generated key the RA cannot use: ${(err as Error).message}`, { cause: err });
          }
          const spki = createPublicKey(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })).export({ type: 'spki', format: 'der' });
          return { ...(await checkReturned(req, answer.result.certificate, spki)), privateKey: pkcs8 };
        }
      }
    },
    async csrAttributes() {
      await chain().catch(() => undefined);
      return state.attrs;
    },
    health(): ConnectorHealth {
      return {
        healthy: state.healthy, url: where,
        ...(state.lastError ? { lastError: state.lastError } : {}),
        ...(state.lastSuccessAt ? { lastSuccessAt: state.lastSuccessAt } : {}),
        ...(state.fetchedAt ? { chainFetchedAt: state.fetchedAt } : {}),
        handshakes: client?.handshakes ?? 0, requests, credentials,
      };
    },
    async probe(options) {
      await refresh().catch(() => undefined);
      if (state.healthy && options?.credentials !== false) credentials = await probeCredentials();
      return ca.health();
    },
    close() {
      clearInterval(timer);
      if (requests > 0) ctx.logger?.info({ ca: s.id, requests, handshakes: client?.handshakes ?? 0 }, 'upstream CA connector closed');
      client?.close();
    },
  };
  return ca;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
