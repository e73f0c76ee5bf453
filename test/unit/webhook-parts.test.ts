/** The small parts of webhook delivery: backoff, the sealed secret, the signature's edges, the body. */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { retryDelayMs } from '../../src/notify/webhook-dispatcher.js';
import { generateSecret, secretBox } from '../../src/notify/webhook-secrets.js';
import { webhookBody } from '../../src/notify/webhook-sender.js';
import { signatureHeader, verifySignature } from '../../src/notify/webhook-signature.js';

describe('webhook parts', () => {
  it('backs off exponentially from retrySeconds up to retryMaxSeconds', () => {
    const s = { retryBaseMs: 30_000, retryMaxMs: 3_600_000 };
    expect([1, 2, 3, 4, 8, 50].map((a) => retryDelayMs(s, a))).toEqual([30_000, 60_000, 120_000, 240_000, 3_600_000, 3_600_000]);
  });

  it('seals a secret so that only the same key opens it, and a changed byte is refused', () => {
    const key = randomBytes(32);
    const secret = generateSecret();
    const sealed = secretBox(key).seal(secret);
    expect(sealed).toMatch(/^v1\./);
    expect(sealed).not.toContain(secret.slice(6));
    expect(secretBox(key).seal(secret)).not.toBe(sealed); // a fresh nonce each time
    expect(secretBox(key).open(sealed)).toBe(secret);
    expect(() => secretBox(randomBytes(32)).open(sealed)).toThrow(/cannot be opened with this key file/);
    const raw = Buffer.from(sealed.slice(3), 'base64url');
    raw[raw.length - 1]! ^= 1;
    expect(() => secretBox(key).open(`v1.${raw.toString('base64url')}`)).toThrow(/cannot be opened/);
  });

  it('verifies t and v1 within the tolerance only', () => {
    const at = new Date('2026-12-06T12:00:00Z');
    const body = webhookBody({ eventId: 'evt_7', type: 'cert.issued', occurredAt: at, data: '{"serial":"01"}' });
    expect(body).toBe('{"id":"evt_7","type":"cert.issued","time":"2026-12-06T12:00:00.000Z","data":{"serial":"01"}}');
    const header = signatureHeader('whsec_x', at, body);
    expect(header).toMatch(/^t=1796558400,v1=[0-9a-f]{64}$/);
    expect(verifySignature('whsec_x', header, body, new Date(at.getTime() + 299_000))).toBe(true);
    expect(verifySignature('whsec_x', header, body, new Date(at.getTime() + 301_000))).toBe(false); // a replay, later
    expect(verifySignature('whsec_x', header.replace(/v1=../, 'v1=00'), body, at)).toBe(false);
    expect(verifySignature('whsec_x', `${header},v1=${'ab'.repeat(32)}`, body, at)).toBe(true); // any v1 that matches passes (room for two during a rotation)
  });
});
