/**
 * The RA: decides whether a client gets the certificate it asks for, has the profile's CA
 * issue it, and commits it before answering. The EST layer calls only this interface.
 */
import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import { CaMisconfiguredError, CaUnavailableError, hasCsrAttributes, type CaBackend } from '../ca/ca-backend.js';
import { normalizeSerial } from '../pki/certificate.js';
import { TaskGate } from '../pki/key-checks.js';
import type { KeyPackageSigner } from '../pki/key-package.js';
import { StoreUnavailableError, type Store } from '../store/store.js';
import { type Profile } from './model.js';
import type { AuthContext, Credentials } from './authenticators.js';
import { parseAnchors, subjectOf } from './client-cert.js';
import { CredentialCache } from './credential-cache.js';
import { csrAttrsFor } from './csrattrs-policy.js';
import type { DeviceCrlSource } from './device-crl.js';
import { runEnrollPipeline, type PipelineDeps } from './enroll-pipeline.js';
import { RaError } from './errors.js';
import { HashGate } from './hash-gate.js';
import { LABEL } from './patterns.js';
import { generatedKeyInfo, generateKey, KeygenLimiter, type GeneratedKey } from './server-keygen.js';
import { BasicAuthThrottle, DEFAULT_BASIC_THROTTLE, type BasicThrottleSettings } from './throttle.js';

export type EnrollOperation = 'simpleenroll' | 'simplereenroll' | 'serverkeygen';

export interface EnrollRequest {
  /** The label from the URL; '' for the unlabeled path. */
  label: string;
  operation: EnrollOperation;
  csr: Buffer;
  credentials: Credentials;
}

/** Expected outcomes are values: issued now, or held for a human (RFC 7030 §4.2.3). */
export type EnrollOutcome =
  | {
      kind: 'issued';
      certificate: Buffer;
      serial: string;
      /** serverkeygen: the generated key, PKCS#8 DER, or (encrypted) a CMS EnvelopedData of it; never stored. */
      privateKey?: { der: Buffer; encrypted: boolean };
    }
  | { kind: 'pending'; retryAfterSeconds: number };

export interface EnrollmentService {
  /** The profile behind a label, or RaError('not-found'). */
  profile(label: string): Promise<Profile>;
  cacerts(label: string): Promise<readonly Buffer[]>;
  /** DER CsrAttrs, or undefined when the profile has none (204). */
  csrattrs(label: string): Promise<Buffer | undefined>;
  enroll(request: EnrollRequest): Promise<EnrollOutcome>;
}

export interface EnrollmentServiceOptions {
  store: Store;
  cas: ReadonlyMap<string, CaBackend>;
  defaultProfile: string;
  now: () => Date;
  logger: Logger;
  cache?: CredentialCache;
  /** Failed HTTP Basic attempts that lock an account or a client address (default DEFAULT_BASIC_THROTTLE). */
  basicThrottle?: BasicThrottleSettings;
  /** Bounds the full password hashes (default: 2 at once, 1 for suspects). */
  gate?: HashGate;
  /** Requests one requester may have held for approval at once (default 10). */
  maxPendingPerRequester?: number;
  /** A request whose certificate would be larger than this is refused (default 16 KiB). */
  maxCertificateBytes?: number;
  /** Seconds a client is told to wait when the store or CA is unavailable. */
  unavailableRetryAfter?: number;
  /** CRLs of external device CAs (TLS client certificates not issued here). */
  deviceCrls?: DeviceCrlSource;
  /** Server-side key generations running at once in this process (default 2); more get 503. */
  serverKeygenConcurrency?: number;
  /**
   * RFC 7030 §4.4.2: signs encrypted server-generated keys ("the party that generated the private
   * key": the EST server's TLS key and certificate chain). Without it, encrypted return is 501.
   */
  keyPackageSigner?: KeyPackageSigner;
  /** Told of every certificate issued, with the profile's label and its CA connector's id (metrics). */
  onIssued?: (profile: string, ca: string) => void;
  /** The RA's identifier of a request the CA connector sees (default: a random UUID). */
  requestId?: () => string;
}

/** Seconds a client is told to wait when every server-side key generation slot is busy. */
const KEYGEN_BUSY_RETRY_AFTER = 5;


function subjectOrUnreadable(der: Buffer): string {
  try {
    return subjectOf(new X509Certificate(der));
  } catch {
    return 'anonymous';
  }
}

/** The service, and what the composition root tells it: the set of CAs changed (o.cas is live). */
export function createEnrollmentService(o: EnrollmentServiceOptions): EnrollmentService & { casChanged(): void } {
  const cache = o.cache ?? new CredentialCache();
  const anchorCache = new Map<string, { stamp: number; anchors: X509Certificate[] }>();
  const retryAfter = o.unavailableRetryAfter ?? 30;
  const keygenLimiter = new KeygenLimiter(o.serverKeygenConcurrency);
  // half of the default thread pool at most for RSA primality tests (pki/key-checks.ts TaskGate)
  const primalityGate = new TaskGate(2);

  /** RFC 7030 §4.4: the profile's key, generated off the event loop, a bounded number at a time. */
  async function serverGeneratedKey(p: Profile): Promise<GeneratedKey> {
    const info = generatedKeyInfo(p);
    if (typeof info === 'string') throw new RaError('forbidden', info);
    const release = keygenLimiter.tryAcquire();
    if (!release) {
      throw new RaError('unavailable', `the server is busy generating keys (${keygenLimiter.maxConcurrent} at a time), try again later`, { retryAfterSeconds: KEYGEN_BUSY_RETRY_AFTER });
    }
    try {
      return await generateKey(info);
    } finally {
      release();
    }
  }

  const maxPending = o.maxPendingPerRequester ?? 10;
  const maxCertificateBytes = o.maxCertificateBytes ?? 16 * 1024;

  /** `caReason`: the requester is authenticated, so the CA's reason is its business (as for 502); the store's never is. */
  const unavailable = (err: unknown, caReason = false): RaError =>
    new RaError('unavailable', caReason && err instanceof CaUnavailableError ? `${err.message}; try again later` : 'the service is temporarily unavailable, try again later', {
      retryAfterSeconds: (err instanceof CaUnavailableError ? err.retryAfterSeconds : undefined) ?? retryAfter, cause: err,
    });

  /** Store and CA failures become 503; RA errors pass through; anything else is a bug and rethrown. */
  const guard = async <T>(fn: () => Promise<T>, caReason = false): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof StoreUnavailableError || err instanceof CaUnavailableError) throw unavailable(err, caReason);
      throw err;
    }
  };

  const authContext: AuthContext = {
    store: o.store,
    knownIntermediates: [],
    cache,
    now: o.now,
    anchorsFor(profile) {
      const stamp = profile.updatedAt.getTime();
      const hit = anchorCache.get(profile.label);
      if (hit && hit.stamp === stamp) return hit.anchors;
      const anchors = parseAnchors(profile.clientTrustAnchors);
      anchorCache.set(profile.label, { stamp, anchors });
      return anchors;
    },
    async isRevokedHere(cert) {
      const ours = [...o.cas.values()].some((ca) => ca.issued(cert.raw));
      return ours && (await o.store.isRevoked(normalizeSerial(cert.serialNumber)));
    },
    throttle: new BasicAuthThrottle(o.basicThrottle ?? DEFAULT_BASIC_THROTTLE, o.store, () => o.now().getTime()),
    gate: o.gate ?? new HashGate(),
    issuedHere: (cert) => [...o.cas.values()].some((ca) => ca.issued(cert.raw)),
    deviceCrls: o.deviceCrls,
  };

  // Our CAs' intermediates, for client chains that omit them; loaded again when the CAs change (a connector caches its chain).
  const loadIntermediates = (): Promise<void> => Promise.all([...o.cas.values()].map((ca) => ca.chain().catch((err: unknown) => {
    o.logger.warn({ ca: ca.id, err }, 'could not read the CA chain; its intermediates are not known for client certificate validation');
    return [];
  }))).then((chains) => {
    authContext.knownIntermediates = chains.flat().map((der) => new X509Certificate(der)).filter((c) => c.ca);
  });
  let intermediatesLoaded = loadIntermediates();

  async function profile(label: string): Promise<Profile> {
    const name = label === '' ? o.defaultProfile : label;
    if (!LABEL.test(name)) throw new RaError('not-found', `unknown EST label "${label}"`);
    const p = await guard(() => o.store.getProfile(name));
    if (!p) throw new RaError('not-found', `unknown EST label "${name}"`);
    if (!p.enabled) throw new RaError('not-found', `EST is not enabled on profile "${name}"`);
    return p;
  }

  function caFor(p: Profile): CaBackend {
    const ca = o.cas.get(p.ca);
    if (!ca) throw unavailable(new Error(`profile "${p.label}" names CA connector "${p.ca}", which is not configured`));
    return ca;
  }

  const pipeline: PipelineDeps = {
    store: o.store,
    now: o.now,
    logger: o.logger,
    authentication: { store: o.store, now: o.now, auth: authContext },
    policy: { store: o.store, primalityGate },
    approval: { store: o.store, now: o.now, logger: o.logger, maxPending },
    maxCertificateBytes,
    serverGeneratedKey,
    keyPackageSigner: o.keyPackageSigner,
    ...(o.requestId ? { requestId: o.requestId } : {}),
  };

  return {
    casChanged() {
      intermediatesLoaded = loadIntermediates();
    },
    profile,
    async cacerts(label) {
      const ca = caFor(await profile(label));
      try {
        return await guard(() => ca.chain());
      } catch (err) {
        // e.g. an upstream that has no such label: not the client's fault, 502 naming the connector
        if (err instanceof CaMisconfiguredError) throw new RaError('misconfigured', `CA connector "${ca.id}" is misconfigured: ${err.message}`, { cause: err });
        throw err;
      }
    },
    async csrattrs(label) {
      const p = await profile(label);
      const ca = o.cas.get(p.ca);
      return csrAttrsFor(p, ca && hasCsrAttributes(ca) ? await ca.csrAttributes() : []);
    },
    async enroll(req) {
      const p = await profile(req.label);
      const audit = { actor: req.credentials.basic?.user ?? 'anonymous' };
      try {
        await intermediatesLoaded;
        // the connector is called only after authentication (stage 1): its 503 reason may be told
        const outcome = await guard(() => runEnrollPipeline(pipeline, req, p, caFor(p), audit), true);
        if (outcome.kind === 'issued') {
          o.logger.info({ op: req.operation, profile: p.label, actor: audit.actor, serial: outcome.serial }, 'certificate issued');
          o.onIssued?.(p.label, p.ca);
        }
        return outcome;
      } catch (err) {
        const code = err instanceof RaError ? err.code : 'error';
        // a refused client certificate is named by its subject
        const leaf = req.credentials.clientChain?.[0];
        if (audit.actor === 'anonymous' && leaf) audit.actor = subjectOrUnreadable(leaf);
        // A refusal while locked is not audited one by one: the lock itself was (est.lockout).
        if (code === 'throttled') {
          o.logger.debug({ op: req.operation, profile: p.label, actor: audit.actor, reason: (err as Error).message }, 'enrollment throttled');
          throw err;
        }
        o.logger.warn({ op: req.operation, profile: p.label, actor: audit.actor, outcome: code, reason: (err as Error).message }, 'enrollment refused');
        await o.store
          .appendAudit({ actor: audit.actor, action: req.operation, profile: p.label, outcome: code, serial: null, detail: (err as Error).message })
          .catch((auditErr: unknown) => o.logger.error({ err: auditErr }, 'could not write the audit event'));
        throw err;
      }
    },
  };
}
