/**
 * The client's "is this certificate for my key" check (certifiesKey, splitIssued): the SPKI bytes
 * first, then, for a CA that re-encodes the key, the key itself. The re-encoded case is real: an
 * openssl certificate whose EC point is in compressed form, against the request's uncompressed SPKI.
 */
import { createPublicKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { createCaHierarchy, createTlsServerCertificate } from '../../src/ca/ca-setup.js';
import { certifiesKey, splitIssued } from '../../src/client/responses.js';
import { certificateFields } from '../../src/pki/certificate.js';
import { opensslIn } from '../helpers/openssl.js';

const now = new Date();
const { issuing } = createCaHierarchy({ algorithm: 'ec-p256', rootName: 'CN=Unit Root', issuingName: 'CN=Unit Issuing', now, random: randomBytes });
const leaf = createTlsServerCertificate({ issuer: issuing, hosts: ['leaf.example'], algorithm: 'ec-p256', days: 1, now, random: randomBytes });
const spkiOf = (der: Buffer): Buffer => new X509Certificate(der).publicKey.export({ type: 'spki', format: 'der' });
const dir = mkdtempSync(join(tmpdir(), 'certifies-key-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('matches a certificate to the key of the request by its SPKI bytes, and refuses another key', () => {
  expect(certifiesKey(leaf.der, spkiOf(leaf.der))).toBe(true);
  expect(certifiesKey(leaf.der, spkiOf(issuing.der))).toBe(false);
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });
  expect(certifiesKey(leaf.der, other)).toBe(false);
  expect(splitIssued([issuing.der, leaf.der], spkiOf(leaf.der)).certificate).toEqual(leaf.der);
});

it('matches a certificate whose CA re-encoded the key (compressed EC point) by the key itself', async () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(join(dir, 'key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  for (const args of [
    ['ec', '-in', 'key.pem', '-conv_form', 'compressed', '-out', 'compressed.pem'],
    ['req', '-x509', '-new', '-key', 'compressed.pem', '-subj', '/CN=compressed', '-days', '1', '-outform', 'DER', '-out', 'cert.der'],
  ]) {
    const r = await opensslIn(dir, args);
    expect(r.code, r.out).toBe(0);
  }
  const cert = readFileSync(join(dir, 'cert.der'));
  const requested = createPublicKey(privateKey).export({ type: 'spki', format: 'der' }); // uncompressed, as a CSR carries it
  expect(certificateFields(cert).spki.equals(requested)).toBe(false); // the bytes differ: the slow path decides
  expect(certifiesKey(cert, requested)).toBe(true);
  expect(splitIssued([issuing.der, cert], requested).certificate).toEqual(cert);
  expect(certifiesKey(cert, spkiOf(leaf.der))).toBe(false);
});
