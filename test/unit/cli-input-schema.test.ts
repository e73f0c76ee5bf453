/** The CLI checks profile and account input against the Web RA API's schemas too: both surfaces accept the same values. */
import { describe, expect, it } from 'vitest';
import { AccountCreate, ProfileUpdate } from '../../src/admin/schemas.js';
import { inputSchemaError } from '../../src/cli/input-schema.js';
import { applyProfileFlags } from '../../src/cli/profile-options.js';
import { defaultProfile } from '../../src/ra/default-profile.js';

const base = () => defaultProfile('iot', 'default');
const cas = ['default'];

describe('CLI input against the API schemas', () => {
  it('accepts the default profile and a plain account', () => {
    expect(inputSchemaError(ProfileUpdate, base())).toBeUndefined();
    expect(inputSchemaError(AccountCreate, { email: 'ops@example.com', role: 'est', allowedNames: ['sensor-*'] })).toBeUndefined();
  });

  it('refuses through the flag what the API refuses, e.g. more extended key usages than the API takes', () => {
    const ekus = Array.from({ length: 21 }, (_, i) => `1.3.6.1.4.1.55555.${i + 1}`).join(',');
    expect(() => applyProfileFlags(base(), { eku: ekus }, cas)).toThrow('--eku: expected at most 20 entries, got 21');
    expect(applyProfileFlags(base(), { eku: ekus.split(',').slice(0, 20).join(',') }, cas).extendedKeyUsage).toHaveLength(20);
  });

  it('takes a stored profile (dates and all) as the API would receive it', () => {
    const stored = { ...base(), createdAt: new Date('2026-01-01T00:00:00Z'), updatedAt: new Date() };
    expect(applyProfileFlags(stored, { validityDays: '30' }, cas).validitySeconds).toBe(30 * 86_400);
    expect(inputSchemaError(ProfileUpdate, stored)).toBeUndefined();
  });

  it('names the field of an account the API would refuse', () => {
    expect(inputSchemaError(AccountCreate, { email: `${'a'.repeat(250)}@example.com`, role: 'est' })).toEqual({ field: 'email', message: 'expected at most 254 characters' });
    expect(inputSchemaError(AccountCreate, { email: 'a@b', role: 'est', allowedNames: [''] })).toEqual({ field: 'allowedNames', message: 'expected a non-empty string' });
  });
});
