/**
 * The PKCS#11 signer with several sessions signing at once in the libuv thread pool, against a real
 * SoftHSM2 token. The module must be initialized for OS locking (CKF_OS_LOCKING_OK): initialized with
 * NULL arguments SoftHSM2 ran without its locks and corrupted its heap (the process aborted in malloc)
 * after a few thousand concurrent signatures. Every signature must verify. In its own file: such a
 * crash takes the whole test process down.
 */
import { generateKeyPairSync, verify } from 'node:crypto';
import { expect, it } from 'vitest';
import { openPkcs11Signer } from '../../src/ca/signers/pkcs11-signer.js';
import { parsePkcs11Uri } from '../../src/ca/signers/pkcs11-uri.js';
import { softHsm } from '../helpers/softhsm.js';

it('signs 6,000 times with 8 sessions at once, every signature verifying', async () => {
  const hsm = softHsm();
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  hsm.initToken('concurrent');
  hsm.importKey('concurrent', 'p256', '01', key.privateKey);
  const signer = openPkcs11Signer({
    modulePath: hsm.module, uri: parsePkcs11Uri('pkcs11:token=concurrent;object=p256;type=private'), pin: hsm.pin,
    publicKey: key.publicKey.export({ type: 'spki', format: 'der' }), setting: 'cas.test.key', sessions: 8,
  });
  try {
    let verified = 0;
    for (let round = 0; round < 100; round++) {
      const data = Array.from({ length: 60 }, (_, i) => Buffer.from(`tbs ${round} ${i}`));
      const sigs = await Promise.all(data.map((d) => signer.sign(d)));
      sigs.forEach((sig, i) => {
        if (verify('sha256', data[i]!, { key: key.publicKey, dsaEncoding: 'der' }, sig)) verified++;
      });
    }
    expect(verified).toBe(6000);
  } finally {
    signer.close();
  }
}, 300_000);
