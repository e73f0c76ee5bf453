/**
 * The three EST authentication mechanisms of a profile. Each yields a principal or throws an
 * RaError('unauthenticated' | 'forbidden'). Chosen by `profile.auth`, exhaustively.
 */
import type { X509Certificate } from 'node:crypto';
import type { Store } from '../store/store.js';
import type { Account, AuthMechanism, Profile } from './model.js';
import { type parseAnchors, subjectOf, validateClientChain } from './client-cert.js';
import type { CredentialCache } from './credential-cache.js';
import type { DeviceCrlSource } from './device-crl.js';
import { deviceRevocationStatus } from './device-revocation.js';
import { RaError } from './errors.js';
import { HashGateFullError, type HashGate } from './hash-gate.js';
import { dummyPasswordHash, verifyPassword } from './password.js';
import type { BasicAuthThrottle, BasicLock } from './throttle.js';

export interface Credentials {
  basic?: { user: string; password: string };
  /** The TLS client certificate chain from the socket, leaf first (DER). */
  clientChain?: Buffer[];
  /**
   * The TLS channel binding of this connection (RFC 7030 §3.5): tls-unique (RFC 5929) under
   * TLS 1.2, tls-exporter (RFC 9266) under TLS 1.3; undefined when the transport has none.
   */
  channelBinding?: Buffer | undefined;
  /** The client's network address (from the socket, or as a trusted proxy reports it), for throttling failed attempts. */
  address?: string | undefined;
  /**
   * The request came through a trusted TLS-terminating proxy: `clientChain` is the certificate it
   * forwarded, and the client's TLS channel (hence its channel binding) ended at the proxy.
   */
  viaProxy?: boolean;
}

export interface Principal {
  /** For the audit log: account email and/or certificate subject. */
  actor: string;
  account?: Account;
  certificate?: X509Certificate;
  /** The trust anchor the TLS client certificate chained to. */
  anchor?: X509Certificate;
}

export interface AuthContext {
  store: Store;
  cache: CredentialCache;
  now: () => Date;
  anchorsFor(profile: Profile): ReturnType<typeof parseAnchors>;
  /** Intermediate CA certificates we know without the client sending them (our CAs' chains). */
  knownIntermediates: readonly X509Certificate[];
  /** True when one of our CAs issued it and it is revoked. */
  isRevokedHere(cert: X509Certificate): Promise<boolean>;
  /** Failed Basic attempts per account and per address. */
  throttle: BasicAuthThrottle;
  /** Bounds the full password hashes paid for credentials not in the cache. */
  gate: HashGate;
  /** True when one of our CAs issued it (the store knows its status). */
  issuedHere(cert: X509Certificate): boolean;
  /** CRLs of external device CAs; without it their certificates are not checked for revocation. */
  deviceCrls?: DeviceCrlSource | undefined;
}

export const basicRealm = (profile: Profile): string => `estuary ${profile.label}`;

const acceptsBasic = (auth: AuthMechanism): boolean => auth !== 'tls-client-cert';

/** A failed or missing password: challenge for Basic (only profiles that accept it get here). */
export function unauthenticated(profile: Profile, message: string): RaError {
  return new RaError('unauthenticated', message, acceptsBasic(profile.auth) ? { basicRealm: basicRealm(profile) } : {});
}

/**
 * A failed or missing client certificate: challenge for a certificate, never for a password the
 * profile would not accept instead (RFC 9110 §15.5.2: every 401 carries a challenge). A client
 * that sent no credentials at all to a profile that also wants Basic is told about Basic too.
 */
export function certificateRefused(profile: Profile, message: string, creds: Credentials): RaError {
  const askBasic = acceptsBasic(profile.auth) && !creds.basic;
  return new RaError('unauthenticated', message, { certificateRealm: basicRealm(profile), ...(askBasic ? { basicRealm: basicRealm(profile) } : {}) });
}

function throttled(lock: BasicLock, email: string): RaError {
  const what = lock.scope === 'account' ? `account ${email}` : 'this client address';
  return new RaError('throttled', `too many failed authentication attempts for ${what}; try again in ${lock.retryAfterSeconds} seconds`, { retryAfterSeconds: lock.retryAfterSeconds });
}

/** A full password hash through the gate; a full queue is a 429, not a wait. */
async function gatedVerify(ctx: AuthContext, creds: Credentials, password: string, hash: string): Promise<boolean> {
  try {
    return await ctx.gate.run(ctx.throttle.suspect(creds.address), () => verifyPassword(password, hash));
  } catch (err) {
    if (err instanceof HashGateFullError) throw new RaError('throttled', `${err.message}; try again in 5 seconds`, { retryAfterSeconds: 5 });
    throw err;
  }
}

/** Records a failure; a lock it sets off is audited once (refusals while locked are not). */
async function recordFailure(ctx: AuthContext, profile: Profile, email: string, address: string | undefined): Promise<void> {
  for (const lock of await ctx.throttle.fail(email, address)) {
    const what = lock.scope === 'account' ? `account ${email}` : `address ${address}`;
    await ctx.store.appendAudit({
      actor: lock.scope === 'account' ? email : (address ?? 'anonymous'), action: 'est.lockout', profile: profile.label, outcome: 'throttled', serial: null,
      detail: `${what} locked for ${lock.retryAfterSeconds} s after repeated failed HTTP Basic authentication${address ? ` (last from ${address})` : ''}`,
    });
  }
}

/**
 * HTTP Basic with an EST account's email address and password. Locked accounts and addresses
 * are refused (429) before any hash; a credential proven recently (in the cache) passes an
 * account lock, so guessing cannot lock a working device out.
 */
export async function authenticateBasic(ctx: AuthContext, profile: Profile, creds: Credentials): Promise<Account> {
  if (!creds.basic) throw unauthenticated(profile, 'HTTP Basic credentials (EST account email and password) are required');
  const email = creds.basic.user.trim().toLowerCase();
  const { password } = creds.basic;
  const addressLock = await ctx.throttle.locked(email, creds.address);
  if (addressLock?.scope === 'address') throw throttled(addressLock, email);
  const account = await ctx.store.getAccount(email);
  const usable = account && account.role === 'est' && !account.disabled;
  const proven = usable && ctx.cache.has(email, password, account.passwordHash);
  if (!proven) {
    const lock = await ctx.throttle.locked(email, creds.address, account?.unlockedAt);
    if (lock) throw throttled(lock, email);
  }
  if (!usable) {
    // Hash even for unknown accounts so the answer's timing does not tell which emails exist.
    await gatedVerify(ctx, creds, password, await dummyPasswordHash());
    await recordFailure(ctx, profile, email, creds.address);
    throw unauthenticated(profile, 'invalid EST account credentials');
  }
  const ok = proven || (await ctx.cache.verify(email, password, account.passwordHash, () => gatedVerify(ctx, creds, password, account.passwordHash)));
  if (!ok) {
    await recordFailure(ctx, profile, email, creds.address);
    throw unauthenticated(profile, 'invalid EST account credentials');
  }
  await ctx.throttle.succeed(email);
  if (profile.allowedAccounts.length > 0 && !profile.allowedAccounts.includes(email)) {
    throw new RaError('forbidden', `account ${email} is not allowed on profile "${profile.label}"`);
  }
  if (account.allowedProfiles.length > 0 && !account.allowedProfiles.includes(profile.label)) {
    throw new RaError('forbidden', `account ${email} is restricted to other profiles than "${profile.label}"`);
  }
  return account;
}

/** TLS client authentication against the profile's device CA trust anchors. */
export async function authenticateClientCert(ctx: AuthContext, profile: Profile, creds: Credentials): Promise<{ certificate: X509Certificate; anchor: X509Certificate }> {
  if (!creds.clientChain || creds.clientChain.length === 0) {
    const sent = creds.basic ? 'HTTP Basic credentials alone are not enough: ' : '';
    throw certificateRefused(profile, `${sent}a TLS client certificate is required by this profile, and none was presented`, creds);
  }
  const anchors = ctx.anchorsFor(profile);
  if (anchors.length === 0) throw certificateRefused(profile, `profile "${profile.label}" has no client trust anchors configured`, creds);
  const result = validateClientChain(creds.clientChain, anchors, ctx.now(), ctx.knownIntermediates);
  if (!result.ok) throw certificateRefused(profile, result.reason, creds);
  if (await ctx.isRevokedHere(result.leaf)) throw certificateRefused(profile, 'the client certificate has been revoked', creds);
  if (ctx.deviceCrls && !ctx.issuedHere(result.leaf)) {
    // RFC 5280 §6.3: a device CA's certificates are checked against their issuers' CRLs.
    const status = await deviceRevocationStatus(ctx.deviceCrls, profile, result.path);
    switch (status.kind) {
      case 'good':
        break;
      case 'revoked':
        throw certificateRefused(profile, status.reason, creds);
      case 'unavailable':
        if (!status.allowed) throw certificateRefused(profile, status.detail, creds);
        await ctx.store.appendAudit({
          actor: subjectOf(result.leaf), action: 'revocation-check', profile: profile.label, outcome: 'allowed', serial: null,
          detail: `${status.detail}; certificate serial ${result.leaf.serialNumber.toLowerCase()}`,
        });
    }
  }
  return { certificate: result.leaf, anchor: result.anchor };
}

/** simpleenroll: the profile's mechanism decides. */
export async function authenticateEnroll(ctx: AuthContext, profile: Profile, creds: Credentials): Promise<Principal> {
  switch (profile.auth) {
    case 'basic': {
      const account = await authenticateBasic(ctx, profile, creds);
      return { actor: account.email, account };
    }
    case 'tls-client-cert': {
      const { certificate, anchor } = await authenticateClientCert(ctx, profile, creds);
      return { actor: subjectOf(certificate), certificate, anchor };
    }
    case 'basic+tls-client-cert': {
      // Certificate first, then Basic.
      const { certificate, anchor } = await authenticateClientCert(ctx, profile, creds);
      const account = await authenticateBasic(ctx, profile, creds);
      return { actor: account.email, account, certificate, anchor };
    }
  }
}
