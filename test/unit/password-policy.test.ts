/** The password policy: length, the common-password list (case-insensitive), the email. */
import { describe, expect, it } from 'vitest';
import { commonPasswords, passwordRefusal } from '../../src/ra/password-policy.js';

describe('passwordRefusal', () => {
  it('ships a list of a few thousand common passwords of 8 or more characters', () => {
    const list = commonPasswords();
    expect(list.size).toBeGreaterThan(3000);
    for (const p of ['password', '12345678', 'qwertyuiop', 'iloveyou', 'football', 'baseball']) expect(list.has(p), p).toBe(true);
    expect([...list].every((p) => p.length >= 8 && p === p.toLowerCase())).toBe(true);
  });

  it('refuses short, common (any case) and email-like passwords; accepts others', () => {
    expect(passwordRefusal('short', 'a@example.com')).toMatch(/at least 8 characters/);
    expect(passwordRefusal('PassWord', 'a@example.com')).toMatch(/most common/);
    expect(passwordRefusal('Device.One@Example.com', 'device.one@example.com')).toMatch(/email address/);
    expect(passwordRefusal('DEVICE.ONE', 'device.one@example.com')).toMatch(/local part/);
    expect(passwordRefusal('correct-horse-battery', 'device.one@example.com')).toBeUndefined();
  });
});
