/** The PKCS#11 signer against a real SoftHSM2 token: EC and RSA (PKCS#1 v1.5 and PSS), errors that name the setting. */
import { constants, generateKeyPairSync, verify } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { CaUnavailableError } from '../../src/ca/ca-backend.js';
import { openPkcs11Signer, Pkcs11SetupError } from '../../src/ca/signers/pkcs11-signer.js';
import { parsePkcs11Uri } from '../../src/ca/signers/pkcs11-uri.js';
import { softHsm, type SoftHsm } from '../helpers/softhsm.js';

let hsm: SoftHsm;
const keys = {
  p256: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  p384: generateKeyPairSync('ec', { namedCurve: 'P-384' }),
  rsa: generateKeyPairSync('rsa', { modulusLength: 2048 }),
};

beforeAll(() => {
  hsm = softHsm();
  hsm.initToken('signer-test');
  hsm.importKey('signer-test', 'p256', '01', keys.p256.privateKey);
  hsm.importKey('signer-test', 'p384', '02', keys.p384.privateKey);
  hsm.importKey('signer-test', 'rsa', '03', keys.rsa.privateKey);
});

const spki = (k: { publicKey: import('node:crypto').KeyObject }): Buffer => k.publicKey.export({ type: 'spki', format: 'der' });
const open = (object: string, publicKey: Buffer, extra: Partial<Parameters<typeof openPkcs11Signer>[0]> = {}) =>
  openPkcs11Signer({ modulePath: hsm.module, uri: parsePkcs11Uri(`pkcs11:token=signer-test;object=${object};type=private`), pin: hsm.pin, publicKey, setting: 'cas.test.key', ...extra });

describe('PKCS#11 signer (SoftHSM2)', () => {
  it.each([['p256', 'sha256'], ['p384', 'sha384']] as const)('signs with EC %s (DER ECDSA, verified with the public key)', async (name, hash) => {
    const signer = open(name, spki(keys[name]));
    const data = Buffer.from('to be signed');
    const sigs = await Promise.all(Array.from({ length: 8 }, () => signer.sign(data)));
    for (const sig of sigs) expect(verify(hash, data, { key: keys[name].publicKey, dsaEncoding: 'der' }, sig)).toBe(true);
    expect(signer.description).toMatch(/PKCS#11 ec/);
    signer.close();
  });

  it('signs with RSA PKCS#1 v1.5 and with RSASSA-PSS', async () => {
    const data = Buffer.from('tbs');
    const pkcs1 = open('rsa', spki(keys.rsa));
    expect(verify('sha256', data, keys.rsa.publicKey, await pkcs1.sign(data))).toBe(true);
    pkcs1.close();
    const pss = open('rsa', spki(keys.rsa), { rsaScheme: 'pss' });
    expect(verify('sha256', data, { key: keys.rsa.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, await pss.sign(data))).toBe(true);
    pss.close();
  });

  it('names the setting, the token and the object when something is wrong', () => {
    expect(() => open('p256', spki(keys.p256), { pin: 'wrong' })).toThrow(/cas\.test\.key: cannot log in to the token of token "signer-test", object "p256": the PIN is wrong/);
    expect(() => open('nothing', spki(keys.p256))).toThrow(/cas\.test\.key: the token has no private key token "signer-test", object "nothing"/);
    expect(() => openPkcs11Signer({ modulePath: hsm.module, uri: parsePkcs11Uri('pkcs11:token=absent;object=x'), pin: hsm.pin, publicKey: spki(keys.p256), setting: 'cas.test.key' }))
      .toThrow(/no token matches token "absent"/);
    expect(() => open('p384', spki(keys.p256))).toThrow(Pkcs11SetupError);
    expect(() => open('p256', spki(keys.p384))).toThrow(/is not the key of the CA certificate/);
    expect(() => parsePkcs11Uri('pkcs11:token=a;object=b?pin-value=1234')).toThrow(/pin-value/);
  });

  it('answers unavailable while the token is gone, and signs again once it is back, without reopening', async () => {
    hsm.initToken('removable');
    hsm.importKey('removable', 'p256', '01', keys.p256.privateKey);
    const signer = openPkcs11Signer({ modulePath: hsm.module, uri: parsePkcs11Uri('pkcs11:token=removable;object=p256'), pin: hsm.pin, publicKey: spki(keys.p256), setting: 'cas.test.key' });
    const data = Buffer.from('x');
    await signer.sign(data);
    hsm.deleteToken('removable');
    const err = await signer.sign(data).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(CaUnavailableError);
    expect((err as CaUnavailableError).retryAfterSeconds).toBe(30);
    hsm.initToken('removable');
    hsm.importKey('removable', 'p256', '01', keys.p256.privateKey);
    const again = await signer.sign(data);
    expect(verify('sha256', data, { key: keys.p256.publicKey, dsaEncoding: 'der' }, again)).toBe(true);
    signer.close();
  });
});
