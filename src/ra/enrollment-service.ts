/**
 * The RA: decides whether a client gets the certificate it asks for, has the profile's CA
 * issue it, and commits it before answering. The EST layer calls only this interface.
 */
import { createHash, X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import { CaUnavailableError, type CaBackend } from '../ca/ca-backend.js';
import { certificateFields, normalizeSerial, type CertificateFields } from '../pki/certificate.js';
import { parseCsr, UnsupportedKeyError, verifyCsrSignature, type ParsedCsr } from '../pki/csr.js';
import { generalNameToString, nameToString } from '../pki/names.js';
import { OID } from '../pki/oids.js';
import { StoreConflictError, StoreUnavailableError, type Account, type Profile, type Store } from '../store/store.js';
import {
  authenticateBasic, authenticateEnroll, basicRealm, type AuthContext, type Credentials, type Principal,
} from './authenticators.js';
import { parseAnchors } from './client-cert.js';
import { CredentialCache } from './credential-cache.js';
import { csrAttrsFor } from './csrattrs-policy.js';
import type { DeviceCrlSource } from './device-crl.js';
import { RaError } from './errors.js';
import { HashGate } from './hash-gate.js';
import { encryptedKey, recipientFor } from './key-return.js';
import { checkPopLinking } from './pop-linking.js';
import { generatedKeyInfo, generateKey, KeygenLimiter, type GeneratedKey } from './server-keygen.js';
import { TaskGate } from '../pki/key-checks.js';
import type { KeyPackageSigner } from '../pki/key-package.js';
import { checkNames } from './name-policy.js';
import { checkRenewalRules, renewingAccount } from './renewal-rules.js';
import { BasicAuthThrottle, DEFAULT_BASIC_THROTTLE, type BasicThrottleSettings } from './throttle.js';
import { checkKey, describeKey, extendedKeyUsageOids, keyUsageFor } from './profile-policy.js';
import { admitNames, type IssueNames } from './request-names.js';

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
}

/** Seconds a client is told to wait when every server-side key generation slot is busy. */
const KEYGEN_BUSY_RETRY_AFTER = 5;

const LABEL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** What a certificate holds beyond subject, SAN and key: issuer, validity, serial, profile extensions, a CA signature of up to RSA-4096. */
const CERTIFICATE_OVERHEAD_BYTES = 1536;

function subjectOrUnreadable(der: Buffer): string {
  try {
    return new X509Certificate(der).subject.replace(/\n/g, ', ');
  } catch {
    return 'anonymous';
  }
}

export function createEnrollmentService(o: EnrollmentServiceOptions): EnrollmentService {
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

  const unavailable = (err: unknown): RaError =>
    new RaError('unavailable', 'the service is temporarily unavailable, try again later', { retryAfterSeconds: retryAfter, cause: err });

  /** Store and CA failures become 503; RA errors pass through; anything else is a bug and rethrown. */
  const guard = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof StoreUnavailableError || err instanceof CaUnavailableError) throw unavailable(err);
      throw err;
    }
  };

  const knownIntermediates = [...o.cas.values()].flatMap((ca) => ca.chain().map((der) => new X509Certificate(der))).filter((c) => c.ca);
  const authContext: AuthContext = {
    store: o.store,
    knownIntermediates,
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
    throttle: new BasicAuthThrottle(o.basicThrottle ?? DEFAULT_BASIC_THROTTLE, () => o.now().getTime()),
    gate: o.gate ?? new HashGate(),
    issuedHere: (cert) => [...o.cas.values()].some((ca) => ca.issued(cert.raw)),
    deviceCrls: o.deviceCrls,
  };

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

  /** The usable EST account behind a requester name, or null. */
  async function requesterAccount(email: string): Promise<Account | null> {
    const account = await o.store.getAccount(email);
    return account && account.role === 'est' && !account.disabled ? account : null;
  }

  /** RFC 7030 §4.2.2: reenroll is authenticated by the certificate being renewed. */
  async function authenticateReenroll(p: Profile, ca: CaBackend, creds: Credentials): Promise<Principal & { renewing: CertificateFields; owner?: Account }> {
    // Only a certificate can authenticate a reenroll, so certificate failures challenge for a certificate, not Basic.
    const certRefused = (message: string): RaError => new RaError('unauthenticated', message, { certificateRealm: basicRealm(p) });
    const leafDer = creds.clientChain?.[0];
    if (!leafDer) throw certRefused('simplereenroll requires the certificate being renewed as the TLS client certificate');
    const cert = new X509Certificate(leafDer);
    if (!ca.issued(leafDer)) throw certRefused('the client certificate was not issued by this profile\'s CA');
    const now = o.now();
    if (now > new Date(cert.validTo) || now < new Date(cert.validFrom)) throw certRefused('the certificate being renewed is not within its validity period');
    const renewing = certificateFields(leafDer);
    const record = await o.store.getCertificate(renewing.serialHex);
    if (!record) throw certRefused('the certificate being renewed is not known to this RA');
    if (record.status === 'revoked') throw certRefused('the certificate being renewed has been revoked');
    if (record.profile !== p.label) throw new RaError('forbidden', `the certificate being renewed belongs to profile "${record.profile}", not "${p.label}"`);
    await checkRenewalRules(o.store, p, record, now);
    // A certificate obtained with an EST account renews only while that account may still enroll.
    const owner = p.auth === 'tls-client-cert' ? undefined : await renewingAccount(o.store, p, record.requester);
    if (p.auth === 'basic+tls-client-cert') {
      const account = await authenticateBasic(authContext, p, creds);
      return { actor: account.email, account, certificate: cert, renewing, ...(owner ? { owner } : {}) };
    }
    return { actor: record.requester, ...(owner ? { account: owner, owner } : {}), certificate: cert, renewing };
  }

  /**
   * RFC 7030 §4.2.3: a manual profile holds the request and answers 202; the client re-sends the
   * same request, identified by requester and public key, until an officer decides.
   */
  async function holdForApproval(
    req: EnrollRequest, p: Profile, requester: string, csr: ParsedCsr, names: IssueNames,
  ): Promise<{ kind: 'pending'; retryAfterSeconds: number } | { kind: 'approved'; id: number; csr: Buffer }> {
    const keyId = createHash('sha256').update(csr.spki).digest('hex');
    const now = o.now();
    const held = await o.store.findPendingRequest(p.label, requester, keyId);
    const pending = { kind: 'pending', retryAfterSeconds: p.retryAfterSeconds } as const;
    if (!held) {
      const waiting = await o.store.countPendingRequests({ status: 'pending', requester, expiresAfter: now });
      if (waiting >= maxPending) {
        throw new RaError('forbidden', `${requester} already has ${waiting} requests waiting for approval (at most ${maxPending}); retry once an officer has decided`);
      }
      const created = await o.store.createPendingRequest({
        profile: p.label, operation: req.operation, requester, keyId, csr: csr.der, subject: nameToString(names.subject), sans: names.names.map(generalNameToString),
        keyDescription: describeKey(csr.key), createdAt: now, expiresAt: new Date(now.getTime() + p.pendingTtlHours * 3_600_000),
      });
      await o.store.appendAudit({ actor: requester, action: req.operation, profile: p.label, outcome: 'pending', serial: null, detail: `request ${created.id} held for approval` });
      o.logger.info({ op: req.operation, profile: p.label, actor: requester, request: created.id }, 'request held for approval');
      return pending;
    }
    switch (held.status) {
      case 'pending':
        if (now > held.expiresAt) throw new RaError('forbidden', `request ${held.id} expired on ${held.expiresAt.toISOString()} without a decision`);
        return pending;
      case 'rejected':
        throw new RaError('forbidden', `request ${held.id} was rejected${held.reason ? `: ${held.reason}` : ''}`);
      case 'approved':
        return { kind: 'approved', id: held.id, csr: held.csr };
      case 'issued':
        throw new Error(`request ${held.id} was already issued`); // findPendingRequest never returns these
    }
  }

  async function enrollOnce(req: EnrollRequest, p: Profile, audit: { actor: string }): Promise<EnrollOutcome> {
    const ca = caFor(p);
    const principal: Principal & { renewing?: CertificateFields; owner?: Account } =
      req.operation === 'simplereenroll'
        ? await authenticateReenroll(p, ca, req.credentials)
        : await authenticateEnroll(authContext, p, req.credentials);
    audit.actor = principal.actor;

    let csr;
    try {
      csr = parseCsr(req.csr);
    } catch (err) {
      // README "keyAlgorithms": a key type or curve outside every profile is a policy refusal (403)
      if (err instanceof UnsupportedKeyError) throw new RaError('forbidden', `key refused: ${err.message}`);
      throw new RaError('bad-request', `the body is not a valid PKCS#10 request: ${(err as Error).message}`);
    }
    const serverKeygen = req.operation === 'serverkeygen';
    if (serverKeygen) {
      // RFC 7030 §4.4.1: the CSR's public key and signature are ignored; the server makes the key.
      if (csr.attributeTypes.includes(OID.decryptKeyIdentifier)) {
        throw new RaError('not-implemented', 'symmetric encryption of server-generated keys (DecryptKeyIdentifier, RFC 7030 §4.4.1.1) is not supported by this server; use AsymmetricDecryptKeyIdentifier');
      }
    } else {
      let signatureOk: boolean;
      try {
        signatureOk = verifyCsrSignature(csr);
      } catch (err) {
        throw new RaError('bad-request', (err as Error).message);
      }
      if (!signatureOk) throw new RaError('bad-request', 'the CSR signature does not verify');
      const keyRefusal = await checkKey(p, csr.key, csr.spki, primalityGate);
      if (keyRefusal) throw new RaError('forbidden', keyRefusal);
    }
    checkPopLinking(p, principal, csr, req.credentials);
    // RFC 7030 §4.2.2 ChangeSubjectName on a certificate-only renewal: the original requester's name globs apply
    const requester = principal.renewing && !principal.account && csr.changeSubjectName ? await requesterAccount(principal.actor) : undefined;
    let names = admitNames(p, principal, csr, requester);
    if (principal.owner && principal.owner !== principal.account) {
      // The account that obtained the certificate must still be allowed these names.
      const ownerRefusal = checkNames(p, principal.owner, names.subject, names.names);
      if (ownerRefusal) throw new RaError('forbidden', `simplereenroll: ${ownerRefusal}`);
    }
    const renews = principal.renewing?.serialHex ?? null;

    let approvedRequestId: number | undefined;
    if (p.approval === 'manual') {
      const held = await holdForApproval(req, p, principal.actor, csr, names);
      if (held.kind === 'pending') return held;
      approvedRequestId = held.id;
      // Issue what the officer approved: the held CSR (the re-sent one has the same key).
      csr = parseCsr(held.csr);
      names = admitNames(p, principal, csr, requester);
    }

    // checked before anything is issued: a refused encrypted return must not leave a certificate behind
    const encryptTo = serverKeygen && csr.asymmetricDecryptKeyId !== undefined ? recipientFor(csr.asymmetricDecryptKeyId, req.credentials) : undefined;
    if (encryptTo && !o.keyPackageSigner) throw new RaError('not-implemented', 'encrypted server-generated keys need a signing key, and this server has none configured');
    const generated = serverKeygen ? await serverGeneratedKey(p) : undefined;
    const keyInfo = generated?.info ?? csr.key;
    const keyUsage = keyUsageFor(p, keyInfo);
    if (!keyUsage) throw new RaError('forbidden', `the key usage of profile "${p.label}" (${p.keyUsage.join(', ')}) cannot apply to a ${describeKey(keyInfo)} key`);
    // The parts of the certificate the client chooses, plus a bound on what the CA adds (issuer, validity, extensions, signature).
    const estimatedBytes = csr.subject.length + (names.subjectAltName?.length ?? 0) + (generated?.spki ?? csr.spki).length + CERTIFICATE_OVERHEAD_BYTES;
    if (estimatedBytes > maxCertificateBytes) {
      throw new RaError('forbidden', `the certificate would be about ${estimatedBytes} bytes, more than this server issues (${maxCertificateBytes}); request fewer or shorter names`);
    }
    const issued = await ca.issue({
      subject: names.subject,
      spki: generated?.spki ?? csr.spki,
      subjectAltName: names.subjectAltName,
      validityDays: p.validityDays,
      keyUsage,
      extendedKeyUsage: extendedKeyUsageOids(p),
    });
    const supersede = renews && p.renewal.supersede
      ? { at: o.now(), event: { actor: principal.actor, action: 'cert.supersede', profile: p.label, outcome: 'success', serial: renews, detail: `superseded by ${issued.serialHex} (simplereenroll)` } }
      : undefined;
    await o.store.recordIssuance(
      {
        serial: issued.serialHex,
        profile: p.label,
        ca: ca.id,
        subject: nameToString(names.subject),
        sans: names.names.map(generalNameToString),
        notBefore: issued.notBefore,
        notAfter: issued.notAfter,
        der: issued.der,
        requester: principal.actor,
        renews,
      },
      { actor: principal.actor, action: req.operation, profile: p.label, outcome: 'success', serial: issued.serialHex, detail: approvedRequestId ? `approved request ${approvedRequestId}` : null },
      {
        // The renewed certificate is revoked (superseded), and the approved request marked issued, in the same transaction that records the certificate.
        ...(renews ? { renewal: { ...(supersede ? { supersede } : {}), once: p.renewal.once } } : {}),
        ...(approvedRequestId !== undefined ? { approvedRequestId } : {}),
      },
    ).catch(async (err: unknown) => {
      if (err instanceof StoreConflictError && renews && p.renewal.once && (await o.store.findRenewal(renews))) {
        throw new RaError('forbidden', `simplereenroll: the certificate has already been renewed; profile "${p.label}" renews each certificate once`);
      }
      if (err instanceof StoreConflictError && approvedRequestId !== undefined) {
        throw new RaError('forbidden', `request ${approvedRequestId} has already been issued; enroll again for another certificate`);
      }
      throw err;
    });
    if (!generated) return { kind: 'issued', certificate: issued.der, serial: issued.serialHex };
    const privateKey = encryptTo ? { der: await encryptedKey(generated.pkcs8, encryptTo, o.now(), csr.smimeCapabilities, o.keyPackageSigner!), encrypted: true } : { der: generated.pkcs8, encrypted: false };
    return { kind: 'issued', certificate: issued.der, serial: issued.serialHex, privateKey };
  }

  return {
    profile,
    async cacerts(label) {
      return caFor(await profile(label)).chain();
    },
    async csrattrs(label) {
      return csrAttrsFor(await profile(label));
    },
    async enroll(req) {
      const p = await profile(req.label);
      const audit = { actor: req.credentials.basic?.user ?? 'anonymous' };
      try {
        const outcome = await guard(() => enrollOnce(req, p, audit));
        if (outcome.kind === 'issued') o.logger.info({ op: req.operation, profile: p.label, actor: audit.actor, serial: outcome.serial }, 'certificate issued');
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
