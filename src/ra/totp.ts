/**
 * Time-based one-time passwords (RFC 6238, TOTP) over HOTP (RFC 4226), with node:crypto only.
 * Estuary's second factor uses the authenticator apps' defaults: HMAC-SHA1, 6 digits, 30-second
 * steps from the Unix epoch, and accepts the step before and after the current one (clock drift,
 * RFC 6238 §5.2). Replay is refused by the caller, which remembers the last accepted step.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export type TotpAlgorithm = 'sha1' | 'sha256' | 'sha512';

export interface TotpParameters {
  algorithm: TotpAlgorithm;
  digits: number;
  /** Seconds per time step (RFC 6238 §4.1: X, default 30). */
  stepSeconds: number;
}

export const TOTP_DEFAULTS: TotpParameters = { algorithm: 'sha1', digits: 6, stepSeconds: 30 };

/** RFC 6238 §5.2: at most one step of drift either way. */
export const TOTP_WINDOW = 1;

/** 160 bits, the HMAC-SHA1 output size (RFC 4226 §4 R6 recommends at least this). */
export const TOTP_SECRET_BYTES = 20;

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 §6 base32, without padding (as otpauth:// URIs carry it). */
export function base32Encode(data: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of data) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** RFC 4648 §6 base32; case, spaces and padding ignored. Throws on any other character. */
export function base32Decode(text: string): Buffer {
  const clean = text.replace(/[\s=]/g, '').toUpperCase();
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of clean) {
    const v = BASE32.indexOf(ch);
    if (v < 0) throw new RangeError(`not base32: ${JSON.stringify(ch)}`);
    value = ((value << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** A new random secret (160 bits), base32. */
export function generateTotpSecret(random: (n: number) => Buffer = randomBytes): string {
  return base32Encode(random(TOTP_SECRET_BYTES));
}

/** RFC 4226 §5.3: HMAC over the 8-byte counter, dynamic truncation, the low `digits` decimal digits. */
export function hotp(secret: Uint8Array, counter: number, digits = 6, algorithm: TotpAlgorithm = 'sha1'): string {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac(algorithm, secret).update(msg).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return binary.toString().padStart(digits, '0');
}

/** RFC 6238 §4.2: T = floor((now - T0) / X), T0 = 0. */
export function totpStep(timeMs: number, stepSeconds = TOTP_DEFAULTS.stepSeconds): number {
  return Math.floor(timeMs / 1000 / stepSeconds);
}

/** The code for a time (RFC 6238 §4.2). */
export function totp(secret: Uint8Array, timeMs: number, p: Partial<TotpParameters> = {}): string {
  const { algorithm, digits, stepSeconds } = { ...TOTP_DEFAULTS, ...p };
  return hotp(secret, totpStep(timeMs, stepSeconds), digits, algorithm);
}

/**
 * The time step a presented code matches, within ±TOTP_WINDOW steps of `timeMs`, or undefined.
 * Every candidate is compared in constant time (all of them, whether one matched or not). The
 * caller accepts the step only if it is later than the last one accepted (replay, RFC 6238 §5.2).
 */
export function matchTotp(secretBase32: string, code: string, timeMs: number, p: Partial<TotpParameters> = {}): number | undefined {
  const { algorithm, digits, stepSeconds } = { ...TOTP_DEFAULTS, ...p };
  const presented = Buffer.from(code.replace(/\s/g, ''));
  if (presented.length !== digits || !/^\d+$/.test(presented.toString())) return undefined;
  const secret = base32Decode(secretBase32);
  const now = totpStep(timeMs, stepSeconds);
  let matched: number | undefined;
  for (let step = now - TOTP_WINDOW; step <= now + TOTP_WINDOW; step++) {
    const expected = Buffer.from(hotp(secret, step, digits, algorithm));
    if (timingSafeEqual(expected, presented) && matched === undefined) matched = step;
  }
  return matched;
}

/**
 * The otpauth:// URI authenticator apps read from the QR code (Key Uri Format: issuer and
 * account in the label, the secret in base32, the parameters spelled out).
 */
export function otpauthUri(o: { secret: string; issuer: string; account: string }): string {
  const label = `${encodeURIComponent(o.issuer)}:${encodeURIComponent(o.account)}`;
  const q = new URLSearchParams({ secret: o.secret, issuer: o.issuer, algorithm: 'SHA1', digits: String(TOTP_DEFAULTS.digits), period: String(TOTP_DEFAULTS.stepSeconds) });
  return `otpauth://totp/${label}?${q.toString().replace(/\+/g, '%20')}`;
}
