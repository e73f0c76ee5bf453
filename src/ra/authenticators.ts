/**
 * The three EST authentication mechanisms of a profile. Each yields a principal or throws an
 * RaError('unauthenticated' | 'forbidden'). Chosen by `profile.auth`, exhaustively.
 */
import type { X509Certificate } from 'node:crypto';
import type { Account, AuthMechanism, Profile, Store } from '../store/store.js';
import { validateClientChain, type parseAnchors } from './client-cert.js';
import type { CredentialCache } from './credential-cache.js';
import type { DeviceCrlSource } from './device-crl.js';
import { deviceRevocationStatus } from './device-revocation.js';
import { RaError } from './errors.js';
import { dummyPasswordHash, verifyPassword } from './password.js';

export interface Credentials {
  basic?: { user: string; password: string };
  /** The TLS client certificate chain from the socket, leaf first (DER). */
  clientChain?: Buffer[];
  /**
   * The TLS channel binding of this connection (RFC 7030 §3.5): tls-unique (RFC 5929) under
   * TLS 1.2, tls-exporter (RFC 9266) under TLS 1.3; undefined when the transport has none.
   */
  channelBinding?: Buffer | undefined;
}

export interface Principal {
  /** For the audit log: account email and/or certificate subject. */
  actor: string;
  account?: Account;
  certificate?: X509Certificate;
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
  /** True when one of our CAs issued it (the store knows its status). */
  issuedHere(cert: X509Certificate): boolean;
  /** CRLs of external device CAs; without it their certificates are not checked for revocation. */
  deviceCrls?: DeviceCrlSource | undefined;
}

export const basicRealm = (profile: Profile): string => `estuary ${profile.label}`;

const acceptsBasic = (auth: AuthMechanism): boolean => auth !== 'tls-client-cert';

export function unauthenticated(profile: Profile, message: string): RaError {
  return new RaError('unauthenticated', message, acceptsBasic(profile.auth) ? { basicRealm: basicRealm(profile) } : {});
}

/** HTTP Basic with an EST account's email address and password. */
export async function authenticateBasic(ctx: AuthContext, profile: Profile, creds: Credentials): Promise<Account> {
  if (!creds.basic) throw unauthenticated(profile, 'HTTP Basic credentials (EST account email and password) are required');
  const email = creds.basic.user.trim().toLowerCase();
  const { password } = creds.basic;
  const account = await ctx.store.getAccount(email);
  const usable = account && account.role === 'est' && !account.disabled;
  if (!usable) {
    // Hash even for unknown accounts so the answer's timing does not tell which emails exist.
    await verifyPassword(password, await dummyPasswordHash());
    throw unauthenticated(profile, 'invalid EST account credentials');
  }
  const ok = await ctx.cache.verify(email, password, account.passwordHash, () => verifyPassword(password, account.passwordHash));
  if (!ok) throw unauthenticated(profile, 'invalid EST account credentials');
  if (profile.allowedAccounts.length > 0 && !profile.allowedAccounts.includes(email)) {
    throw new RaError('forbidden', `account ${email} is not allowed on profile "${profile.label}"`);
  }
  if (account.allowedProfiles.length > 0 && !account.allowedProfiles.includes(profile.label)) {
    throw new RaError('forbidden', `account ${email} is restricted to other profiles than "${profile.label}"`);
  }
  return account;
}

/** TLS client authentication against the profile's device CA trust anchors. */
export async function authenticateClientCert(ctx: AuthContext, profile: Profile, creds: Credentials): Promise<X509Certificate> {
  if (!creds.clientChain || creds.clientChain.length === 0) {
    throw unauthenticated(profile, 'a TLS client certificate is required by this profile');
  }
  const anchors = ctx.anchorsFor(profile);
  if (anchors.length === 0) throw unauthenticated(profile, `profile "${profile.label}" has no client trust anchors configured`);
  const result = validateClientChain(creds.clientChain, anchors, ctx.now(), ctx.knownIntermediates);
  if (!result.ok) throw unauthenticated(profile, result.reason);
  if (await ctx.isRevokedHere(result.leaf)) throw unauthenticated(profile, 'the client certificate has been revoked');
  if (ctx.deviceCrls && !ctx.issuedHere(result.leaf)) {
    // RFC 5280 §6.3: a device CA's certificates are checked against their issuers' CRLs.
    const status = await deviceRevocationStatus(ctx.deviceCrls, profile, result.path);
    switch (status.kind) {
      case 'good':
        break;
      case 'revoked':
        throw unauthenticated(profile, status.reason);
      case 'unavailable':
        if (!status.allowed) throw unauthenticated(profile, status.detail);
        await ctx.store.appendAudit({
          actor: result.leaf.subject.replace(/\n/g, ', '), action: 'revocation-check', profile: profile.label, outcome: 'allowed', serial: null,
          detail: `${status.detail}; certificate serial ${result.leaf.serialNumber.toLowerCase()}`,
        });
    }
  }
  return result.leaf;
}

/** simpleenroll: the profile's mechanism decides. */
export async function authenticateEnroll(ctx: AuthContext, profile: Profile, creds: Credentials): Promise<Principal> {
  switch (profile.auth) {
    case 'basic': {
      const account = await authenticateBasic(ctx, profile, creds);
      return { actor: account.email, account };
    }
    case 'tls-client-cert': {
      const certificate = await authenticateClientCert(ctx, profile, creds);
      return { actor: certificate.subject.replace(/\n/g, ', '), certificate };
    }
    case 'basic+tls-client-cert': {
      // Certificate first, then Basic.
      const certificate = await authenticateClientCert(ctx, profile, creds);
      const account = await authenticateBasic(ctx, profile, creds);
      return { actor: account.email, account, certificate };
    }
  }
}
