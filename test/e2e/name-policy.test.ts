/** Name and key policy end to end: each rule refusing (403 naming it) and accepting; account restrictions; csrattrs. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBase64Body } from '../../src/pki/base64.js';
import { csrTemplate } from '../../src/client/csr-template.js';
import { decodeCsrAttrs } from '../../src/pki/csr-attrs.js';
import { oid, smallInteger } from '../../src/pki/der.js';
import { OID } from '../../src/pki/oids.js';
import { hashPassword } from '../../src/ra/password.js';
import { EMPTY_NAME_POLICY, type NamePolicy } from '../../src/ra/model.js';
import { csrBody, estRequest } from '../helpers/est-http.js';
import { startServer, type TestServer } from '../helpers/home.js';
import { makeCsr, type TestKeyType } from '../helpers/keys.js';

let s: TestServer;
let basic: { user: string; password: string };

async function profileWith(label: string, namePolicy: Partial<NamePolicy>, extra: Record<string, unknown> = {}): Promise<void> {
  const p = (await s.runtime.store.getProfile('default'))!;
  await s.runtime.store.createProfile({ ...p, label, namePolicy: { ...EMPTY_NAME_POLICY, ...namePolicy }, ...extra });
}

async function enroll(label: string, csr: { name?: string; dns?: readonly string[]; ips?: readonly string[]; type?: TestKeyType }, creds = basic) {
  const { der } = await makeCsr({ ...csr, dns: [...(csr.dns ?? [])], ips: [...(csr.ips ?? [])] });
  return estRequest(`${s.base}/${label}/simpleenroll`, { ca: s.rootPem, basic: creds, body: csrBody(der), contentType: 'application/pkcs10' });
}

beforeAll(async () => {
  s = await startServer();
  basic = { user: s.summary.estAccount.email, password: s.summary.estAccount.password };
  await profileWith('subj', { subjectAllowed: ['CN', 'O'], subjectRequired: ['O'], subjectPatterns: { CN: 'dev-[0-9]+' } });
  await profileWith('san', { sanTypes: ['dns', 'ip'], sanRequired: ['dns'], dnsSuffixes: ['.devices.example.com'], ipRanges: ['10.0.0.0/8', '2001:db8::/32'] });
  await profileWith('forbid', { forbiddenNames: ['^admin', 'localhost'] });
  await profileWith('p384', {}, { keyAlgorithms: [{ type: 'ec', curves: ['P-384'] }] });
  await profileWith('rsa3072', {}, { keyAlgorithms: [{ type: 'rsa', minBits: 3072 }] });
  await profileWith('curves', {}, { keyAlgorithms: [{ type: 'ec', curves: ['P-256', 'P-384'] }] });
  await profileWith('rsa-sizes', {}, { keyAlgorithms: [{ type: 'rsa', minBits: 3072 }, { type: 'rsa', minBits: 2048 }] });
});
afterAll(async () => {
  await s.runtime.close();
});

describe('name policy', () => {
  it.each([
    ['subj', { name: 'CN=dev-17, O=Example' }, 200, undefined],
    ['subj', { name: 'CN=dev-17, O=Example, OU=Lab' }, 403, /does not allow subject attribute OU/],
    ['subj', { name: 'CN=dev-17' }, 403, /requires subject attribute O/],
    ['subj', { name: 'CN=printer, O=Example' }, 403, /subject CN="printer" does not match dev-\[0-9\]\+/],
    ['san', { name: 'CN=a', dns: ['a.devices.example.com'], ips: ['10.1.2.3', '2001:db8::7'] }, 200, undefined],
    ['san', { name: 'CN=a', ips: ['10.1.2.3'] }, 403, /requires a DNS name/],
    ['san', { name: 'CN=a', dns: ['a.example.com'] }, 403, /DNS name "a.example.com" is not under an allowed domain/],
    ['san', { name: 'CN=a', dns: ['devices.example.com'] }, 403, /not under an allowed domain/],
    ['san', { name: 'CN=a.evil.com', dns: ['a.devices.example.com'] }, 403, /DNS name "a.evil.com"/],
    ['san', { name: 'CN=a', dns: ['a.devices.example.com'], ips: ['192.168.1.1'] }, 403, /IP address 192.168.1.1 is not in an allowed range/],
    ['forbid', { name: 'CN=web-1', dns: ['web-1.example.com'] }, 200, undefined],
    ['forbid', { name: 'CN=administrator' }, 403, /the name "administrator" is forbidden/],
    ['forbid', { name: 'CN=web-2', dns: ['localhost'] }, 403, /the name "localhost" is forbidden/],
  ] as const)('%s %j → %i', async (label, csr, status, reason) => {
    const res = await enroll(label, csr);
    expect(res.status, res.text).toBe(status);
    if (reason) expect(res.text).toMatch(reason);
  });
});

describe('key policy per profile', () => {
  it.each([
    ['p384', 'ec-p384', 200],
    ['p384', 'ec-p256', 403],
    ['rsa3072', 'rsa-2048', 403],
    ['rsa3072', 'ec-p384', 403],
  ] as const)('%s with %s → %i', async (label, type, status) => {
    const res = await enroll(label, { name: 'CN=k', type });
    expect(res.status, res.text).toBe(status);
    if (status === 403) expect(res.text).toMatch(/is not allowed by profile/);
  });

  it('csrattrs announces the one key type a profile accepts, with curve or size and the hash', async () => {
    const get = async (label: string) => decodeCsrAttrs(decodeBase64Body((await estRequest(`${s.base}/${label}/csrattrs`, { ca: s.rootPem })).body));
    expect(await get('p384')).toEqual([{ type: OID.ecPublicKey, values: [oid(OID.secp384r1)] }, { oid: OID.ecdsaWithSHA384 }]);
    expect(await get('rsa3072')).toEqual([{ type: OID.rsaEncryption, values: [smallInteger(3072)] }, { oid: OID.sha256WithRSAEncryption }]);
    expect((await estRequest(`${s.base}/csrattrs`, { ca: s.rootPem })).status).toBe(204); // several key types allowed: nothing to say
  });

  it('csrattrs announces every curve or RSA size in the RFC 9908 form, and Estuary\'s client follows it', async () => {
    const get = async (label: string) => decodeCsrAttrs(decodeBase64Body((await estRequest(`${s.base}/${label}/csrattrs`, { ca: s.rootPem })).body));
    // one id-ecPublicKey attribute, the curves as its values (DER orders the SET), then the hashes in that order
    const curves = await get('curves');
    expect(curves).toEqual([{ type: OID.ecPublicKey, values: [oid(OID.secp384r1), oid(OID.secp256r1)] }, { oid: OID.ecdsaWithSHA384 }, { oid: OID.ecdsaWithSHA256 }]);
    const rsa = await get('rsa-sizes');
    expect(rsa).toEqual([{ type: OID.rsaEncryption, values: [smallInteger(2048), smallInteger(3072)] }, { oid: OID.sha256WithRSAEncryption }]);
    const ec = csrTemplate(curves);
    expect(ec.keyType).toBe('ec-p384');
    expect(ec.hash).toBe('sha384');
    expect(csrTemplate(rsa).keyType).toBe('rsa-2048');
    // what the client would send is accepted by the profile
    expect((await enroll('curves', { name: 'CN=curves-1', type: 'ec-p384' })).status).toBe(200);
  });
});

describe('account name restrictions', () => {
  it('an account restricted to its own device name gets only that name', async () => {
    await s.runtime.store.createAccount({ email: 'sensor17@example.com', passwordHash: await hashPassword('sensor-17-password'), role: 'est' });
    await s.runtime.store.setAccountAllowedNames('sensor17@example.com', ['sensor-17', 'sensor-17.*.example.com']);
    const creds = { user: 'sensor17@example.com', password: 'sensor-17-password' };
    expect((await enroll('default', { name: 'CN=sensor-17', dns: ['sensor-17.lab.example.com'] }, creds)).status).toBe(200);
    const other = await enroll('default', { name: 'CN=sensor-18' }, creds);
    expect(other.status).toBe(403);
    expect(other.text).toMatch(/account sensor17@example.com may not request the name "sensor-18"/);
    const deep = await enroll('default', { name: 'CN=sensor-17', dns: ['sensor-17.a.b.example.com'] }, creds);
    expect(deep.status).toBe(403);
    await s.runtime.store.setAccountAllowedNames('sensor17@example.com', []);
    expect((await enroll('default', { name: 'CN=anything' }, creds)).status).toBe(200);
  });
});
