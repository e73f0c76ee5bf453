/** Generating the large RSA client key types (seconds of a core each, so not in test/unit). */
import { describe, expect, it } from 'vitest';
import { generateKey, keyTypeOf } from '../../src/client/keys.js';

describe('generateKey for the large RSA types', () => {
  for (const type of ['rsa-3072', 'rsa-4096'] as const) {
    it(`${type}: a fresh key of that size with e = 65537`, () => {
      const keys = generateKey(type);
      expect(keyTypeOf(keys.privateKey)).toBe(type);
      expect(keys.privateKey.asymmetricKeyDetails).toMatchObject({ modulusLength: Number(type.slice(4)), publicExponent: 65537n });
      expect(generateKey(type).publicKey.equals(keys.publicKey)).toBe(false);
    });
  }
});
