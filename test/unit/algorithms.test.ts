/** The one table of key and signature algorithms (src/pki/algorithms.ts). */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CURVES, curveByOid, curveOfKey, hashByOid, HASH_ALGORITHMS, signatureAlgorithmByOid, signatureAlgorithmIdentifier, SIGNATURE_ALGORITHMS, signatureOid,
} from '../../src/pki/algorithms.js';
import { csrSignatureScheme } from '../../src/pki/csr-builder.js';
import { signatureAlgorithmFor } from '../../src/pki/certificate.js';
import { OID, oidName } from '../../src/pki/oids.js';
import { rsaFixtureKey } from '../helpers/fixture-keys.js';

describe('algorithm table', () => {
  it('names every OID, and finds each entry back by its OID', () => {
    for (const a of SIGNATURE_ALGORITHMS) {
      expect(oidName(a.oid)).not.toBe(a.oid);
      expect(signatureAlgorithmByOid(a.oid)).toBe(a);
      expect(signatureOid(a.keyType, a.hash)).toBe(a.oid);
    }
    for (const c of CURVES) expect(curveByOid(c.oid)).toBe(c);
    for (const h of HASH_ALGORITHMS) expect(hashByOid(h.oid)).toBe(h.hash);
    expect(signatureAlgorithmByOid(OID.rsaEncryption)).toBeUndefined();
    expect(() => signatureOid('ed25519', null)).not.toThrow();
  });

  it('encodes RSA with NULL parameters (RFC 4055 §5), ECDSA and Ed25519 without (RFC 5758 §3.2, RFC 8410 §3)', () => {
    expect(signatureAlgorithmIdentifier('rsa', 'sha256').toString('hex')).toBe('300d06092a864886f70d01010b0500');
    expect(signatureAlgorithmIdentifier('ec', 'sha384').toString('hex')).toBe('300a06082a8648ce3d040303');
    expect(signatureAlgorithmIdentifier('ed25519', null).toString('hex')).toBe('300506032b6570');
  });

  it('gives the curve of a key, and its hash to the CSR builder and the certificate signer alike', () => {
    for (const c of CURVES) {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: c.name });
      expect(curveOfKey(privateKey)).toBe(c);
      expect(csrSignatureScheme(privateKey).hash).toBe(c.hash);
      expect(signatureAlgorithmFor(privateKey).hash).toBe(c.hash);
      expect(signatureAlgorithmFor(privateKey).algorithmIdentifier.equals(csrSignatureScheme(privateKey).algorithmIdentifier)).toBe(true);
    }
    expect(curveOfKey(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey)).toBeUndefined();
    expect(curveOfKey(rsaFixtureKey(2048).privateKey)).toBeUndefined();
    expect(signatureAlgorithmFor(rsaFixtureKey(2048).privateKey).algorithmIdentifier.equals(csrSignatureScheme(rsaFixtureKey(2048).privateKey).algorithmIdentifier)).toBe(true);
  });
});
