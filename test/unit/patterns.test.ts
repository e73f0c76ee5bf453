/** One label pattern and one email pattern: the API schemas, profile validation and the EST router use the same. */
import { describe, expect, it } from 'vitest';
import { AccountCreate, ProfileCreate } from '../../src/admin/schemas.js';
import { newLabelError, PROFILE_LABEL } from '../../src/ra/profile-validation.js';
import { EMAIL, EMAIL_PATTERN, LABEL, LABEL_PATTERN } from '../../src/ra/patterns.js';

describe('label and email patterns', () => {
  it('are the ones of the API schemas and of profile validation', () => {
    expect((ProfileCreate.properties.label as { pattern: string }).pattern).toBe(LABEL_PATTERN);
    expect((AccountCreate.properties.email as { pattern: string }).pattern).toBe(EMAIL_PATTERN);
    expect(PROFILE_LABEL).toBe(LABEL);
  });

  it('labels: letters, digits, . _ -, 1 to 64, starting with a letter or digit', () => {
    for (const ok of ['a', 'routers', 'r1.v2_x-y', 'A'.repeat(64)]) expect(LABEL.test(ok), ok).toBe(true);
    for (const bad of ['', '.a', '-a', 'a/b', 'a b', 'ä', 'A'.repeat(65)]) expect(LABEL.test(bad), bad).toBe(false);
    expect(newLabelError('a/b')).toMatch(/not a valid label/);
  });

  it('emails: one @ between non-empty parts without spaces', () => {
    for (const ok of ['a@b', 'ops@example.com', 'x+y@sub.example.org']) expect(EMAIL.test(ok), ok).toBe(true);
    for (const bad of ['', 'a', '@b', 'a@', 'a b@c', 'a@b@c']) expect(EMAIL.test(bad), bad).toBe(false);
  });
});
