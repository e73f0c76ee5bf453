/** A stand-in "Enterprise Device CA" built with @peculiar/x509, and device certificates under it. */
import { x509, generateKeys, privateKeyPem, type TestKeyType } from './keys.js';

export interface DeviceCa {
  pem: string;
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
  issue(cn: string, opts?: { notBefore?: Date; notAfter?: Date; eku?: string[]; keyType?: TestKeyType; dns?: string[]; subject?: string }): Promise<{ cert: string; key: string }>;
}

const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams;


export async function makeDeviceCa(name = 'CN=Enterprise Device CA, O=Example'): Promise<DeviceCa> {
  const keys = await generateKeys('ec-p256');
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name,
    notBefore: new Date(Date.now() - 86_400_000),
    notAfter: new Date(Date.now() + 365 * 86_400_000),
    keys,
    signingAlgorithm: SIGN,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
  });
  let serial = 16;
  return {
    pem: cert.toString('pem') + '\n',
    cert,
    keys,
    async issue(cn, opts = {}) {
      const leafKeys = await generateKeys(opts.keyType ?? 'ec-p256');
      const leaf = await x509.X509CertificateGenerator.create({
        serialNumber: (serial++).toString(16).padStart(2, '0'),
        subject: opts.subject ?? `CN=${cn}`,
        issuer: cert.subject,
        notBefore: opts.notBefore ?? new Date(Date.now() - 3600_000),
        notAfter: opts.notAfter ?? new Date(Date.now() + 30 * 86_400_000),
        publicKey: leafKeys.publicKey,
        signingKey: keys.privateKey,
        signingAlgorithm: SIGN,
        extensions: [
          new x509.ExtendedKeyUsageExtension(opts.eku ?? ['1.3.6.1.5.5.7.3.2']),
          ...(opts.dns?.length ? [new x509.SubjectAlternativeNameExtension(opts.dns.map((value) => ({ type: 'dns' as const, value })))] : []),
        ],
      });
      return { cert: leaf.toString('pem') + '\n', key: await privateKeyPem(leafKeys.privateKey) };
    },
  };
}
