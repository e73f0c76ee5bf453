/**
 * The signature of a webhook delivery (documented in the README, "Webhooks"):
 *
 *   Estuary-Signature: t=<Unix time in seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
 *
 * The secret is the endpoint's secret as shown once at creation (its text, UTF-8). A receiver
 * recomputes v1 over the raw body it received, compares in constant time and refuses a `t` too
 * far from its clock (replays). `v1` names the scheme so a later one can be sent alongside.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'Estuary-Signature';

export function signatureOf(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

export function signatureHeader(secret: string, at: Date, body: string): string {
  const t = Math.floor(at.getTime() / 1000);
  return `t=${t},v1=${signatureOf(secret, t, body)}`;
}

/** What a receiver does; true when the header carries a valid v1 for this body within `toleranceSeconds` of `now`. */
export function verifySignature(secret: string, header: string, body: string, now: Date, toleranceSeconds = 300): boolean {
  const parts = header.split(',').map((p) => p.trim().split('='));
  const t = Number(parts.find(([k]) => k === 't')?.[1]);
  if (!Number.isInteger(t) || Math.abs(now.getTime() / 1000 - t) > toleranceSeconds) return false;
  const expected = Buffer.from(signatureOf(secret, t, body), 'hex');
  return parts.filter(([k]) => k === 'v1').some(([, v]) => {
    const given = Buffer.from(v ?? '', 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
