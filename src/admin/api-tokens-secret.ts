/**
 * API token secrets: `est_` followed by 32 random bytes in base64url (43 characters). The prefix
 * makes a leaked token recognisable (secret scanners, logs); the 256 random bits make a plain
 * SHA-256 enough to store it: no one can guess a secret from its hash, so a copy of the database
 * authenticates no one (a password needs a slow hash; a random 256-bit secret does not).
 * Shared by the Web RA API (api-tokens.ts) and the CLI (`estuary token`).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { AdminRole } from '../ra/model.js';
import type { ApiToken, NewApiToken } from '../store/store.js';

export const TOKEN_PREFIX = 'est_';
/** What a token looks like; anything else is refused without a database read. */
export const TOKEN_FORMAT = /^est_[A-Za-z0-9_-]{43}$/;
/** A token's name: what audit events call its caller (`token:<name>`). */
export const TOKEN_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';
export const DEFAULT_TOKEN_DAYS = 90;
/** Every token expires; a year at most, so a forgotten one does not live for ever. */
export const MAX_TOKEN_DAYS = 365;
const DAY_MS = 86_400_000;

/** The store's id of a token: SHA-256 (hex) of the whole secret. */
export const tokenHash = (secret: string): string => createHash('sha256').update(secret).digest('hex');

/** The audit actor of calls made with the token. */
export const tokenActor = (t: Pick<ApiToken, 'name'>): string => `token:${t.name}`;

export type TokenStatus = 'active' | 'expired' | 'revoked';

export function tokenStatus(t: Pick<ApiToken, 'revokedAt' | 'expiresAt'>, now: Date): TokenStatus {
  if (t.revokedAt) return 'revoked';
  return now.getTime() >= t.expiresAt.getTime() ? 'expired' : 'active';
}

export interface MintOptions {
  name: string;
  role: AdminRole;
  expiresInDays: number;
  createdBy: string;
  now: Date;
  random?: (n: number) => Buffer;
}

/** A new token: the secret (shown once, never stored) and the record the store keeps. */
export function mintApiToken(o: MintOptions): { secret: string; record: NewApiToken } {
  const secret = TOKEN_PREFIX + (o.random ?? randomBytes)(32).toString('base64url');
  return {
    secret,
    record: {
      name: o.name, secretHash: tokenHash(secret), hint: secret.slice(0, TOKEN_PREFIX.length + 4), role: o.role, createdBy: o.createdBy,
      createdAt: o.now, expiresAt: new Date(o.now.getTime() + o.expiresInDays * DAY_MS),
    },
  };
}

/** Why a token name or lifetime is refused (undefined: acceptable). */
export function tokenNameProblem(name: string): string | undefined {
  return new RegExp(TOKEN_NAME_PATTERN).test(name) ? undefined : 'letters, digits, ".", "_" and "-", starting with a letter or digit, at most 64 characters';
}

export function tokenDaysProblem(days: number): string | undefined {
  return Number.isInteger(days) && days >= 1 && days <= MAX_TOKEN_DAYS ? undefined : `a whole number of days from 1 to ${MAX_TOKEN_DAYS}`;
}
