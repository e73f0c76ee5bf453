/**
 * Fixture keys for tests: RSA keys read from test/fixtures/keys (generating an RSA-4096 key costs
 * seconds of a core), EC and Ed25519 keys generated (cheap). Each fixture key is read once per worker.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { generateKey, type ClientKeyPair, type ClientKeyType } from '../../src/client/keys.js';

const FIXTURE_DIR = new URL('../fixtures/keys/', import.meta.url);
export const RSA_FIXTURE_BITS = [2048, 3072, 4096] as const;
export type RsaFixtureBits = (typeof RSA_FIXTURE_BITS)[number];

const cache = new Map<number, ClientKeyPair>();

/** The fixture RSA key of this size (e = 65537). */
export function rsaFixtureKey(bits: RsaFixtureBits): ClientKeyPair {
  let keys = cache.get(bits);
  if (!keys) {
    const privateKey = createPrivateKey(readFileSync(new URL(`rsa-${bits}.pem`, FIXTURE_DIR)));
    keys = { privateKey, publicKey: createPublicKey(privateKey) };
    cache.set(bits, keys);
  }
  return keys;
}

/** PKCS#8 PEM of the fixture RSA key of this size. */
export function rsaFixturePem(bits: RsaFixtureBits): string {
  return readFileSync(new URL(`rsa-${bits}.pem`, FIXTURE_DIR), 'utf8');
}

/** A key of a client key type: RSA from the fixtures, the others freshly generated. */
export function fixtureKey(type: ClientKeyType): ClientKeyPair {
  switch (type) {
    case 'rsa-2048':
    case 'rsa-3072':
    case 'rsa-4096':
      return rsaFixtureKey(Number(type.slice(4)) as RsaFixtureBits);
    default:
      return generateKey(type);
  }
}
