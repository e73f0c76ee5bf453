/**
 * The CA connector contract (src/ca/ca-backend.ts) as one suite every connector type passes: call
 * `connectorContract(() => fixture)` inside a describe() whose beforeAll builds the fixture.
 * issue() for enroll returns issued with the template's key and subject; chain() is async, issuing
 * CA first and up to the root; issued() knows its own certificates and no look-alike's; serverkeygen
 * yields a private key that matches the certificate; refusals are typed errors.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { expect, it } from 'vitest';
import {
  CaBadAnswerError, CaMisconfiguredError, CaRefusedError, CaUnavailableError, generatesServerKeys,
  type CaBackend, type IssuanceTemplate, type IssueRequest, type IssueResult,
} from '../../src/ca/ca-backend.js';
import { createCaHierarchy } from '../../src/ca/ca-setup.js';
import { createLocalCa } from '../../src/ca/local-ca.js';
import { certificateFields } from '../../src/pki/certificate.js';
import { parseCsr } from '../../src/pki/csr.js';
import { namesMatch } from '../../src/pki/name-compare.js';
import { nameToString } from '../../src/pki/names.js';
import { OID } from '../../src/pki/oids.js';
import { issueTemplate } from './issue-template.js';
import { makeCsr, type TestCsr } from './keys.js';

type ErrorClass = typeof CaRefusedError | typeof CaMisconfiguredError | typeof CaUnavailableError | typeof CaBadAnswerError;

export interface ContractRefusal {
  name: string;
  error: ErrorClass;
  /** The connector (the fixture's or another one, e.g. with wrong credentials) and the request it must refuse. */
  arrange(): Promise<{ ca: CaBackend; request: IssueRequest }>;
}

export interface ContractFixture {
  ca: CaBackend;
  /** The refusals this connector type can produce (a local CA signs every template: none). */
  refusals: ContractRefusal[];
}

/** The template the RA would build for a CSR: its subject, key and requested SAN, as admitted. */
export function templateFor(csr: TestCsr | Buffer, spki?: Buffer): IssuanceTemplate {
  const parsed = parseCsr(Buffer.isBuffer(csr) ? csr : csr.der);
  return {
    subject: parsed.subject, spki: spki ?? parsed.spki, subjectAltName: parsed.requestedExtensions.get(OID.subjectAltName),
    validitySeconds: 30 * 86_400, keyUsage: ['digitalSignature'], extendedKeyUsage: [OID.clientAuth],
  };
}

export function requestFor(csr: TestCsr | Buffer, extra: Partial<IssueRequest> = {}): IssueRequest {
  const der = Buffer.isBuffer(csr) ? csr : csr.der;
  return { operation: 'enroll', csr: der, template: templateFor(der), requestId: `contract-${randomBytes(4).toString('hex')}`, requester: 'contract@example.com', ...extra };
}

function issuedOf(result: IssueResult): Extract<IssueResult, { status: 'issued' }> {
  expect(result.status).toBe('issued');
  if (result.status !== 'issued') throw new Error('not issued');
  return result;
}

const spkiOf = (der: Buffer): Buffer => certificateFields(der).spki;

/** A certificate from another CA whose issuing certificate has the same name as `issuerDer`'s (name match, signature not). */
async function lookAlike(issuerDer: Buffer, template: IssuanceTemplate): Promise<Buffer> {
  const issuerName = nameToString(certificateFields(issuerDer).subject);
  const { root, issuing } = createCaHierarchy({ algorithm: 'ec-p256', rootName: 'CN=Look-alike Root', issuingName: issuerName, now: new Date(), random: randomBytes });
  const other = createLocalCa({ id: 'look-alike', key: issuing.key, chain: [issuing.der, root.der], now: () => new Date(), random: randomBytes });
  const { der } = await issueTemplate(other, template);
  expect(namesMatch(certificateFields(der).issuer, certificateFields(issuerDer).subject)).toBe(true);
  return der;
}

export function connectorContract(fixture: () => ContractFixture): void {
  it('issue(enroll) answers issued: a certificate with the template\'s key and subject, signed by the first certificate of chain()', async () => {
    const { ca } = fixture();
    const csr = await makeCsr({ name: 'CN=contract-enroll, O=Estuary Contract', dns: ['contract-enroll.example'] });
    const request = requestFor(csr);
    const result = issuedOf(await ca.issue(request));
    const fields = certificateFields(result.certificate.der);
    expect(fields.spki.equals(request.template.spki)).toBe(true);
    expect(namesMatch(fields.subject, request.template.subject)).toBe(true);
    expect(fields.serialHex).toBe(result.certificate.serialHex);
    const cert = new X509Certificate(result.certificate.der);
    expect(new Date(cert.validTo).getTime()).toBe(result.certificate.notAfter.getTime());
    expect(new Date(cert.validFrom).getTime()).toBe(result.certificate.notBefore.getTime());
    const chain = await ca.chain();
    expect(cert.verify(new X509Certificate(chain[0]!).publicKey)).toBe(true);
    expect(result.chain.map((d) => d.toString('hex'))).toEqual(chain.map((d) => d.toString('hex')));
    expect(result.privateKey).toBeUndefined();
  });

  it('chain() is async and ordered: the issuing CA first, each certificate issued by the next, ending at a self-signed root', async () => {
    const { ca } = fixture();
    const pending = ca.chain();
    expect(pending).toBeInstanceOf(Promise);
    const chain = (await pending).map((d) => new X509Certificate(d));
    expect(chain.length).toBeGreaterThanOrEqual(2);
    expect(chain.every((c) => c.ca)).toBe(true);
    for (let i = 0; i + 1 < chain.length; i++) {
      expect(chain[i]!.checkIssued(chain[i + 1]!), `${chain[i]!.subject} issued by ${chain[i + 1]!.subject}`).toBe(true);
      expect(chain[i]!.verify(chain[i + 1]!.publicKey)).toBe(true);
    }
    const root = chain.at(-1)!;
    expect(root.checkIssued(root) && root.verify(root.publicKey)).toBe(true);
  });

  it('issued(der): true for its own certificate; false for one from a look-alike CA of the same name, a CA certificate of its chain and garbage', async () => {
    const { ca } = fixture();
    const csr = await makeCsr({ name: 'CN=contract-issued' });
    const own = issuedOf(await ca.issue(requestFor(csr))).certificate.der;
    expect(ca.issued(own)).toBe(true);
    const [issuing] = await ca.chain();
    expect(ca.issued(await lookAlike(issuing!, templateFor(csr)))).toBe(false);
    expect(ca.issued(issuing!)).toBe(false);
    expect(ca.issued(Buffer.from('not a certificate'))).toBe(false);
  });

  it('serverkeygen: the certificate is for the key the RA generated, or for the key the CA returns (generatesServerKeys)', async () => {
    const { ca } = fixture();
    const csr = await makeCsr({ name: 'CN=contract-keygen', dns: ['contract-keygen.example'] });
    let result: Extract<IssueResult, { status: 'issued' }>;
    let pkcs8: Buffer;
    if (generatesServerKeys(ca)) {
      // RFC 7030 §4.4: the CA makes the key; the template carries the CSR's key, which the certificate is not for
      result = issuedOf(await ca.issue(requestFor(csr, { operation: 'serverkeygen' })));
      expect(result.privateKey).toBeInstanceOf(Buffer);
      pkcs8 = result.privateKey!;
      expect(spkiOf(result.certificate.der).equals(parseCsr(csr.der).spki)).toBe(false);
    } else {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
      const spki = publicKey.export({ type: 'spki', format: 'der' });
      result = issuedOf(await ca.issue(requestFor(csr, { operation: 'serverkeygen', generatedKey: pkcs8, template: templateFor(csr, spki) })));
      expect(spkiOf(result.certificate.der).equals(spki)).toBe(true);
    }
    const key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
    expect(createPublicKey(key).export({ type: 'spki', format: 'der' }).equals(spkiOf(result.certificate.der))).toBe(true);
    expect(namesMatch(certificateFields(result.certificate.der).subject, parseCsr(csr.der).subject)).toBe(true);
    expect(ca.issued(result.certificate.der)).toBe(true);
  });

  it('refusals are typed errors (CaRefusedError, CaMisconfiguredError, CaUnavailableError), never a result', async () => {
    const { refusals } = fixture();
    for (const r of refusals) {
      const { ca, request } = await r.arrange();
      const err = await ca.issue(request).then(() => undefined, (e: unknown) => e);
      expect(err, r.name).toBeInstanceOf(r.error);
      expect((err as Error).message.length, r.name).toBeGreaterThan(0);
    }
    // a connector that cannot refuse must say so: its fixture lists no refusal, and every template is signed
    if (refusals.length === 0) {
      const csr = await makeCsr({ name: 'CN=contract-any' });
      expect(issuedOf(await fixture().ca.issue(requestFor(csr))).status).toBe('issued');
    }
  });
}
