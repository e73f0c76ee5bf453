/** The built-in CA under connector contract v2 (src/ca/ca-backend.ts): it signs the RA's template, never answers pending. */
import { randomBytes, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCaHierarchy } from '../../src/ca/ca-setup.js';
import { createLocalCa } from '../../src/ca/local-ca.js';
import { parseCsr } from '../../src/pki/csr.js';
import { encodeName } from '../../src/pki/names.js';
import { OID } from '../../src/pki/oids.js';
import { makeCsr } from '../helpers/keys.js';

const hierarchy = createCaHierarchy({ algorithm: 'ec-p256', rootName: 'CN=V2 Root', issuingName: 'CN=V2 Issuing', now: new Date(), random: randomBytes });
const ca = createLocalCa({ id: 'v2', key: hierarchy.issuing.key, chain: [hierarchy.issuing.der, hierarchy.root.der], now: () => new Date(), random: randomBytes });

describe('local CA, connector contract v2', () => {
  it('chain() resolves to the issuing certificate first, then the root', async () => {
    const chain = await ca.chain();
    expect(chain.map((c) => new X509Certificate(c).subject)).toEqual(['CN=V2 Issuing', 'CN=V2 Root']);
  });

  it('issues what the template says, not what the CSR says (serverkeygen: the generated key), with its chain', async () => {
    const csr = await makeCsr({ name: 'CN=asked-for', dns: ['asked.example'] });
    const generated = parseCsr((await makeCsr({ name: 'CN=other-key' })).der).spki;
    const result = await ca.issue({
      operation: 'serverkeygen', csr: csr.der, requestId: 'r-1', requester: 'dev@example.com',
      template: { subject: encodeName('CN=decided'), spki: generated, subjectAltName: undefined, validitySeconds: 2 * 86_400, keyUsage: ['digitalSignature'], extendedKeyUsage: [OID.clientAuth] },
    });
    expect(result.status).toBe('issued'); // a local CA never answers pending
    if (result.status !== 'issued') return;
    const cert = new X509Certificate(result.certificate.der);
    expect(cert.subject).toBe('CN=decided');
    expect(cert.subjectAltName).toBeUndefined();
    expect(Buffer.from(cert.publicKey.export({ type: 'spki', format: 'der' })).equals(generated)).toBe(true);
    expect(result.certificate.notAfter.getTime() - result.certificate.notBefore.getTime()).toBeLessThanOrEqual(2 * 86_400_000 + 300_000);
    expect(cert.serialNumber.toLowerCase().replace(/^0+/, '')).toBe(result.certificate.serialHex.replace(/^0+/, ''));
    expect(result.chain).toEqual(await ca.chain());
    expect(ca.issued(result.certificate.der)).toBe(true);
  });
});
