/**
 * The Web RA's second factor: TOTP (RFC 6238, ra/totp.ts) enrolment with a QR code, one-time
 * recovery codes, checking a sign-in's code with replay refusal, and the sign-in challenge that
 * sits between the password step and the session.
 *
 * - The TOTP secret is made here (160 random bits), shown once (otpauth URI and QR code) until a
 *   first code confirms it, and never again: no API answer or log line carries it afterwards.
 * - Recovery codes (10, 50 random bits each) are shown once; the store keeps their SHA-256, salted
 *   with the account's email. They are random, so a fast hash is enough (as for session cookies).
 * - A code's time step is accepted once, and only when later than the last accepted one, atomically
 *   in the store, so a code seen over someone's shoulder cannot be used again on any instance.
 * - A sign-in challenge is a random value in an HttpOnly cookie scoped to /api/session, of which the
 *   store keeps the SHA-256; it lives 5 minutes and is consumed by the one request that completes it.
 */
import { createHash, randomBytes } from 'node:crypto';
import QRCode from 'qrcode';
import type { FastifyRequest } from 'fastify';
import type { Account, AdminRole } from '../ra/model.js';
import { generateTotpSecret, matchTotp, otpauthUri } from '../ra/totp.js';
import type { SignInChallenge } from '../store/store.js';
import { cookieValue } from './guard.js';
import { problem, ProblemError } from './problem.js';
import type { AdminContext } from './route.js';

export const CHALLENGE_COOKIE = 'estuary_signin';
export const CHALLENGE_TTL_MS = 5 * 60_000;
export const RECOVERY_CODE_COUNT = 10;
/** The issuer authenticator apps show next to the account. */
export const TOTP_ISSUER = 'Estuary Web RA';

const RECOVERY_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567'; // 32 symbols: 5 bits each, no bias
const RECOVERY_CODE = /^[a-z2-7]{10}$/;
const TOTP_CODE = /^\d{6}$/;

/** Ten codes like `k3xq7-mpa2d`: 50 random bits each. */
export function generateRecoveryCodes(random: (n: number) => Buffer = randomBytes): string[] {
  return Array.from({ length: RECOVERY_CODE_COUNT }, () => {
    const chars = [...random(10)].map((b) => RECOVERY_ALPHABET[b & 31]).join('');
    return `${chars.slice(0, 5)}-${chars.slice(5)}`;
  });
}

/** Case, spaces and dashes do not matter when a recovery code is typed. */
const normalizeRecoveryCode = (code: string): string => code.toLowerCase().replace(/[\s-]/g, '');

export function recoveryCodeHash(email: string, code: string): string {
  return createHash('sha256').update(`${email.toLowerCase()}\0${normalizeRecoveryCode(code)}`).digest('hex');
}

export interface Enrolment {
  /** Base32, for typing into an app that cannot scan. */
  secret: string;
  uri: string;
  /** The URI as a QR code: an SVG image as a data: URL. */
  qrCode: string;
}

/** Starts (or restarts) enrolment with a new secret; 409 when the account already has a second factor. */
export async function beginEnrolment(ctx: AdminContext, email: string): Promise<Enrolment> {
  const secret = generateTotpSecret();
  if (!(await ctx.store.beginMfaEnrolment(email, secret, ctx.now()))) {
    throw problem.conflict('this account already has a second factor; an admin can reset it');
  }
  await ctx.store.appendAudit({ actor: email, action: 'account.mfa.start', profile: null, outcome: 'success', serial: null, detail: `${email}: TOTP enrolment started, waiting for its first code` });
  const uri = otpauthUri({ secret, issuer: TOTP_ISSUER, account: email });
  const svg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return { secret, uri, qrCode: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}` };
}

/**
 * Confirms the waiting enrolment with a current code; returns the recovery codes (shown once).
 * A wrong code is a 400 naming `code` (the caller holds the secret: guessing gains nothing).
 */
export async function confirmEnrolment(ctx: AdminContext, email: string, code: string): Promise<string[]> {
  const mfa = await ctx.store.getMfa(email);
  if (!mfa || mfa.confirmedAt) throw problem.conflict(mfa ? 'this account already has a second factor' : 'no enrolment is waiting; start one first');
  const step = matchTotp(mfa.secret, code, ctx.now().getTime());
  if (step === undefined) throw problem.field('code', 'is not the current code of this secret; check the device\'s clock and try the next code');
  const codes = generateRecoveryCodes();
  const hashes = codes.map((c) => recoveryCodeHash(email, c));
  if (!(await ctx.store.confirmMfa(email, mfa.secret, step, hashes, ctx.now()))) {
    throw problem.conflict('the enrolment changed meanwhile (started again elsewhere); start it again');
  }
  await ctx.store.appendAudit({ actor: email, action: 'account.mfa.enrol', profile: null, outcome: 'success', serial: null, detail: `${email}: TOTP second factor confirmed, ${codes.length} recovery codes made` });
  return codes;
}

/**
 * A current TOTP code (not a recovery code) for a change to one's own second factor, from a signed-in
 * session: accepted once, counted against the account's code lock when wrong (a stolen session cannot
 * guess its way to turning the factor off). 400 naming `code`, 409 without a factor, 429 when locked.
 */
export async function requireCurrentCode(ctx: AdminContext, account: Account, code: string): Promise<void> {
  const mfa = await ctx.store.getMfa(account.email);
  if (!mfa?.confirmedAt) throw problem.conflict('this account has no second factor');
  const locked = await ctx.throttle.codeLockedSeconds(account.email, account.unlockedAt);
  if (locked > 0) throw new ProblemError('locked', 'too many wrong codes for this account; try again later', { retryAfterSeconds: locked });
  const step = matchTotp(mfa.secret, code, ctx.now().getTime());
  if (step === undefined) {
    await ctx.throttle.failCode(account.email);
    throw problem.field('code', 'is not the current code of your authenticator app');
  }
  if (!(await ctx.store.useMfaStep(account.email, step))) throw problem.field('code', 'was already used; wait for the next one');
}

/** Ten new recovery codes for a confirmed second factor, replacing the old ones (shown once). */
export async function replaceRecoveryCodes(ctx: AdminContext, email: string): Promise<string[]> {
  const codes = generateRecoveryCodes();
  if (!(await ctx.store.replaceRecoveryCodes(email, codes.map((c) => recoveryCodeHash(email, c))))) throw problem.conflict('this account has no second factor');
  return codes;
}

export type CodeCheck = { ok: true; used: 'totp' | 'recovery code' } | { ok: false; why: string };

/** Checks a sign-in's second factor: a current TOTP code not used before, or an unused recovery code. */
export async function checkCode(ctx: AdminContext, email: string, presented: string): Promise<CodeCheck> {
  const code = presented.replace(/\s/g, '');
  const mfa = await ctx.store.getMfa(email);
  if (!mfa?.confirmedAt) return { ok: false, why: 'no second factor enrolled' };
  if (TOTP_CODE.test(code)) {
    const step = matchTotp(mfa.secret, code, ctx.now().getTime());
    if (step === undefined) return { ok: false, why: 'wrong code' };
    // RFC 6238 §5.2: a code is accepted once; this step or an earlier one was already used.
    if (!(await ctx.store.useMfaStep(email, step))) return { ok: false, why: 'code already used' };
    return { ok: true, used: 'totp' };
  }
  if (RECOVERY_CODE.test(normalizeRecoveryCode(code)) && (await ctx.store.useRecoveryCode(email, recoveryCodeHash(email, code), ctx.now()))) {
    return { ok: true, used: 'recovery code' };
  }
  return { ok: false, why: 'wrong recovery code' };
}

/** What a sign-in with the right password still needs: a code, enrolment first, or nothing. */
export async function secondStep(ctx: AdminContext, account: Account): Promise<SignInChallenge['next'] | undefined> {
  const mfa = await ctx.store.getMfa(account.email);
  if (mfa?.confirmedAt) return 'code';
  const required = await ctx.store.getMfaRequiredRoles();
  return required.includes(account.role as AdminRole) ? 'enrol' : undefined;
}

// ---- the sign-in challenge ----

const challengeId = (cookie: string): string => createHash('sha256').update(cookie).digest('hex');
const COOKIE_VALUE = /^[A-Za-z0-9_-]{43}$/;

/** Host-only, HTTPS-only, invisible to scripts, sent only to the sign-in routes. */
export function challengeCookie(value: string, clear = false): string {
  return `${CHALLENGE_COOKIE}=${value}; Path=/api/session; HttpOnly; Secure; SameSite=Strict; Max-Age=${clear ? 0 : CHALLENGE_TTL_MS / 1000}`;
}

/** A new challenge; the cookie value is returned once and never stored. */
export async function createChallenge(ctx: AdminContext, email: string, next: SignInChallenge['next']): Promise<{ cookie: string; challenge: SignInChallenge }> {
  const cookie = randomBytes(32).toString('base64url');
  const now = ctx.now();
  const challenge: SignInChallenge = { id: challengeId(cookie), email, next, createdAt: now, expiresAt: new Date(now.getTime() + CHALLENGE_TTL_MS) };
  await ctx.store.createSignInChallenge(challenge);
  return { cookie, challenge };
}

/** The caller's challenge, of the kind the route expects; 401 when it is missing, expired or of another kind. */
export async function currentChallenge(ctx: AdminContext, request: FastifyRequest, next: SignInChallenge['next']): Promise<SignInChallenge> {
  const value = cookieValue(request.headers.cookie, CHALLENGE_COOKIE);
  const found = value && COOKIE_VALUE.test(value) ? await ctx.store.getSignInChallenge(challengeId(value)) : undefined;
  if (!found || found.expiresAt.getTime() <= ctx.now().getTime()) {
    throw problem.unauthenticated('the sign-in step has expired or was not started; sign in with your password again');
  }
  if (found.next !== next) {
    throw problem.unauthenticated(next === 'code' ? 'this sign-in must enrol a second factor first' : 'this sign-in needs the code of its second factor');
  }
  return found;
}

/** Consumes the challenge: only one request completes a sign-in. */
export async function completeChallenge(ctx: AdminContext, challenge: SignInChallenge): Promise<void> {
  if (!(await ctx.store.deleteSignInChallenge(challenge.id, ctx.now()))) {
    throw new ProblemError('unauthenticated', 'this sign-in was already completed; sign in with your password again');
  }
}
