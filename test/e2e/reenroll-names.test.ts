/**
 * simplereenroll names (RFC 7030 §4.2.2): "identical" per RFC 5280 §7.1 name matching, the renewed
 * certificate keeps the current encoding; ChangeSubjectName (RFC 6402 §2.8) is honoured under the
 * profile's name policy, or refused with a 4xx that says why.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateFields } from '../../src/pki/certificate.js';
import { seq, tlv } from '../../src/pki/der.js';
import { encodeGeneralNames, encodeName } from '../../src/pki/names.js';
import { OID } from '../../src/pki/oids.js';
import { hashPassword } from '../../src/ra/password.js';
import { EMPTY_NAME_POLICY } from '../../src/ra/model.js';
import { certsFrom, csrBody, estRequest, pem } from '../helpers/est-http.js';
import { startServer, type TestServer } from '../helpers/home.js';
import { cn, newKeys, printable, rawCsr, rdn, utf8, type RawCsrOptions } from '../helpers/raw-csr.js';

let s: TestServer;
let basic: { user: string; password: string };

type Held = { cert: string; key: string; der: Buffer; keys: ReturnType<typeof newKeys> };

async function post(path: string, csr: RawCsrOptions, auth: { basic?: typeof basic; clientCert?: { cert: string; key: string } }) {
  return estRequest(s.base + path, { ca: s.rootPem, body: csrBody(rawCsr(csr)), contentType: 'application/pkcs10', ...auth });
}

async function enrolled(label: string, subject: Buffer | string, dns: string[] = [], auth: Parameters<typeof post>[2] = { basic }): Promise<Held> {
  const keys = newKeys();
  const res = await post(`/${label}/simpleenroll`, { subject, sans: { dns }, keys }, auth);
  expect(res.status, res.text).toBe(200);
  const der = certsFrom(res)[0]!;
  return { cert: pem(der), key: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), der, keys };
}

const change = (...parts: Buffer[]) => [{ type: OID.changeSubjectName, values: [seq(...parts)] }];

beforeAll(async () => {
  s = await startServer();
  basic = { user: s.summary.estAccount.email, password: s.summary.estAccount.password };
  const p = (await s.runtime.store.getProfile('default'))!;
  await s.runtime.store.createProfile({ ...p, label: 'devnames', namePolicy: { ...EMPTY_NAME_POLICY, subjectPatterns: { CN: 'dev-[0-9]+' } } });
  await s.runtime.store.createProfile({ ...p, label: 'tlsbound', auth: 'tls-client-cert', clientTrustAnchors: [readFileSync(join(s.home, 'ca', 'root.pem'), 'utf8')] });
});
afterAll(async () => {
  await s.runtime.close();
});

describe('identical names per RFC 5280 §7.1', () => {
  it('accepts another string type, case and spacing, and SANs in another order and case; keeps the old encoding', async () => {
    const oldSubject = seq(rdn(OID.organizationName, printable('Example Org')), rdn(OID.commonName, printable('Renew Me')));
    const old = await enrolled('default', oldSubject, ['Renew-Me.example', 'b.example']);
    const csrSubject = seq(rdn(OID.organizationName, utf8('example  ORG')), rdn(OID.commonName, utf8(' renew me ')));
    const res = await post('/simplereenroll', { subject: csrSubject, sans: { dns: ['b.example', 'renew-me.EXAMPLE'] }, keys: old.keys }, { clientCert: old });
    expect(res.status, res.text).toBe(200);
    const renewed = certificateFields(certsFrom(res)[0]!);
    const before = certificateFields(old.der);
    expect(renewed.subject.equals(before.subject)).toBe(true);
    expect(renewed.subjectAltName!.equals(before.subjectAltName!)).toBe(true);
  });

  it('still refuses another name, another RDN order and a missing SAN', async () => {
    const old = await enrolled('default', 'O=Example, CN=fixed', ['fixed.example']);
    for (const [subject, dns] of [['O=Example, CN=other', ['fixed.example']], ['CN=fixed, O=Example', ['fixed.example']], ['O=Example, CN=fixed', []]] as const) {
      const res = await post('/simplereenroll', { subject, sans: { dns: [...dns] } }, { clientCert: old });
      expect(res.status, `${subject} ${dns.join()}`).toBe(403);
    }
  });
});

describe('ChangeSubjectName (RFC 6402 §2.8)', () => {
  it('renames under the profile\'s name policy', async () => {
    const old = await enrolled('devnames', 'CN=dev-1', ['dev-1.example']);
    const res = await post('/devnames/simplereenroll', { subject: 'CN=dev-1', sans: { dns: ['dev-1.example'] }, attributes: change(encodeName('CN=dev-2')) }, { clientCert: old });
    expect(res.status, res.text).toBe(200);
    const x = new X509Certificate(certsFrom(res)[0]!);
    expect(x.subject).toBe('CN=dev-2');
    expect(x.subjectAltName).toBe('DNS:dev-1.example'); // only the subject was asked to change
    const record = await s.runtime.store.getCertificate(x.serialNumber.toLowerCase().replace(/^0+/, ''));
    expect(record?.subject).toBe('CN=dev-2');
  });

  it('renames subject and SANs (untagged and erratum 3943 [1]-tagged subjectAlt)', async () => {
    const old = await enrolled('devnames', 'CN=dev-3', ['dev-3.example']);
    const sans = encodeGeneralNames([{ type: 'dns', value: 'dev-4.example' }]);
    const res = await post('/devnames/simplereenroll', { subject: 'CN=dev-3', sans: { dns: ['dev-3.example'] }, attributes: change(encodeName('CN=dev-4'), sans) }, { clientCert: old });
    expect(res.status, res.text).toBe(200);
    expect(new X509Certificate(certsFrom(res)[0]!).subjectAltName).toBe('DNS:dev-4.example');
    const tagged = tlv(0xa1, sans.subarray(2));
    const res2 = await post('/devnames/simplereenroll', { subject: 'CN=dev-3', sans: { dns: ['dev-3.example'] }, attributes: change(tagged) }, { clientCert: old });
    expect(res2.status, res2.text).toBe(200);
    const x = new X509Certificate(certsFrom(res2)[0]!);
    expect([x.subject, x.subjectAltName]).toEqual(['CN=dev-3', 'DNS:dev-4.example']);
  });

  it('refuses a new name the policy does not allow, with the reason', async () => {
    const old = await enrolled('devnames', 'CN=dev-5');
    const res = await post('/devnames/simplereenroll', { subject: 'CN=dev-5', attributes: change(encodeName('CN=printer')) }, { clientCert: old });
    expect(res.status).toBe(403);
    expect(res.text).toMatch(/ChangeSubjectName: profile "devnames": subject CN="printer" does not match/);
  });

  it('holds the new names to the name globs of the EST account that requested the certificate', async () => {
    await s.runtime.store.createAccount({ email: 'dev1x@example.com', passwordHash: await hashPassword('dev1x-password'), role: 'est' });
    await s.runtime.store.setAccountAllowedNames('dev1x@example.com', ['dev-1*']);
    const old = await enrolled('devnames', 'CN=dev-10', [], { basic: { user: 'dev1x@example.com', password: 'dev1x-password' } });
    const within = await post('/devnames/simplereenroll', { subject: 'CN=dev-10', attributes: change(encodeName('CN=dev-11')) }, { clientCert: old });
    expect(within.status, within.text).toBe(200);
    const outside = await post('/devnames/simplereenroll', { subject: 'CN=dev-10', attributes: change(encodeName('CN=dev-20')) }, { clientCert: old });
    expect(outside.status).toBe(403);
    expect(outside.text).toMatch(/ChangeSubjectName: account dev1x@example.com may not request the name "dev-20"/);
    await s.runtime.store.setAccountDisabled('dev1x@example.com', true);
    const disabled = await post('/devnames/simplereenroll', { subject: 'CN=dev-10', attributes: change(encodeName('CN=dev-12')) }, { clientCert: old });
    expect(disabled.status).toBe(403);
    expect(disabled.text).toMatch(/the account dev1x@example.com that obtained the certificate being renewed is disabled/);
  });

  it('is not honoured where names bind to the client certificate: 403 that says so', async () => {
    const device = await enrolled('default', 'CN=bound-1');
    const bound = await enrolled('tlsbound', 'CN=bound-1', [], { clientCert: device });
    const res = await post('/tlsbound/simplereenroll', { subject: 'CN=bound-1', attributes: change(encodeName('CN=someone-else')) }, { clientCert: bound });
    expect(res.status).toBe(403);
    expect(res.text).toMatch(/ChangeSubjectName is not honoured on profile "tlsbound": its names are bound to the TLS client certificate/);
  });

  it('refuses a malformed attribute, a malformed new name and use on simpleenroll with 400', async () => {
    const old = await enrolled('devnames', 'CN=dev-6');
    const empty = await post('/devnames/simplereenroll', { subject: 'CN=dev-6', attributes: change() }, { clientCert: old });
    expect(empty.status).toBe(400);
    expect(empty.text).toMatch(/ChangeSubjectName attribute is not valid/);
    const badName = await post('/devnames/simplereenroll', { subject: 'CN=dev-6', attributes: change(seq(rdn(OID.commonName, utf8('dev-7\u0000')))) }, { clientCert: old });
    expect(badName.status).toBe(400);
    expect(badName.text).toMatch(/ChangeSubjectName: .*control character/);
    const onEnroll = await post('/devnames/simpleenroll', { subject: 'CN=dev-8', attributes: change(seq(cn('dev-9'))) }, { basic });
    expect(onEnroll.status).toBe(400);
    expect(onEnroll.text).toMatch(/applies to simplereenroll only/);
  });
});
