/** A stand-in "Enterprise Device CA" built with @peculiar/x509, and device certificates under it. */
import { x509, generateKeys, privateKeyPem, type TestKeyType } from './keys.js';

export interface IssueOptions {
  notBefore?: Date;
  notAfter?: Date;
  eku?: string[];
  keyType?: TestKeyType;
  sans?: x509.JsonGeneralName[];
  /** DNS subjectAltNames (added to `sans`). */
  dns?: string[];
  /** The whole subject DN (default `CN=<cn>`). */
  subject?: string;
  /** CRL distribution points (each a fullName URI). */
  crlUrl?: string | string[];
}

export interface DeviceCa {
  pem: string;
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
  issue(cn: string, opts?: IssueOptions): Promise<{ cert: string; key: string; serial: string }>;
  /** A DER CRL of this CA listing `serials` (signed with `signingKey`, default the CA's own). */
  crl(serials: string[], opts?: { thisUpdate?: Date; nextUpdate?: Date; signingKey?: CryptoKey }): Promise<Buffer>;
}

const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams;


/**
 * A self-signed device CA, or with `parent` a subordinate CA issued by it (`serial`, and `crlUrl`
 * for its CRL distribution point). `pem` is the CA's own certificate only.
 */
export async function makeDeviceCa(
  name = 'CN=Enterprise Device CA, O=Example',
  opts: { extensions?: x509.Extension[]; parent?: DeviceCa; serial?: string; crlUrl?: string } = {},
): Promise<DeviceCa> {
  const keys = await generateKeys('ec-p256');
  const extensions = [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true), ...(opts.extensions ?? [])];
  if (opts.crlUrl) extensions.push(new x509.CRLDistributionPointsExtension([opts.crlUrl]));
  const validity = { notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() + 365 * 86_400_000) };
  const cert = opts.parent
    ? await x509.X509CertificateGenerator.create({
        serialNumber: opts.serial ?? '02', subject: name, issuer: opts.parent.cert.subject, ...validity,
        publicKey: keys.publicKey, signingKey: opts.parent.keys.privateKey, signingAlgorithm: SIGN, extensions,
      })
    : await x509.X509CertificateGenerator.createSelfSigned({ serialNumber: '01', name, ...validity, keys, signingAlgorithm: SIGN, extensions });
  let serial = 16;
  return {
    pem: cert.toString('pem') + '\n',
    cert,
    keys,
    async issue(cn, opts = {}) {
      const leafKeys = await generateKeys(opts.keyType ?? 'ec-p256');
      const serialHex = (serial++).toString(16).padStart(2, '0');
      const extensions: x509.Extension[] = [new x509.ExtendedKeyUsageExtension(opts.eku ?? ['1.3.6.1.5.5.7.3.2'])];
      const sans = [...(opts.sans ?? []), ...(opts.dns ?? []).map((value) => ({ type: 'dns' as const, value }))];
      if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sans));
      if (opts.crlUrl) extensions.push(new x509.CRLDistributionPointsExtension(typeof opts.crlUrl === 'string' ? [opts.crlUrl] : opts.crlUrl));
      const leaf = await x509.X509CertificateGenerator.create({
        serialNumber: serialHex,
        subject: opts.subject ?? `CN=${cn}`,
        issuer: cert.subject,
        notBefore: opts.notBefore ?? new Date(Date.now() - 3600_000),
        notAfter: opts.notAfter ?? new Date(Date.now() + 30 * 86_400_000),
        publicKey: leafKeys.publicKey,
        signingKey: keys.privateKey,
        signingAlgorithm: SIGN,
        extensions,
      });
      return { cert: leaf.toString('pem') + '\n', key: await privateKeyPem(leafKeys.privateKey), serial: serialHex };
    },
    async crl(serials, o = {}) {
      const thisUpdate = o.thisUpdate ?? new Date(Date.now() - 60_000);
      const crl = await x509.X509CrlGenerator.create({
        issuer: cert.subject,
        thisUpdate,
        nextUpdate: o.nextUpdate ?? new Date(thisUpdate.getTime() + 86_400_000),
        entries: serials.map((s) => ({ serialNumber: s, revocationDate: thisUpdate, reason: x509.X509CrlReason.keyCompromise })),
        signingKey: o.signingKey ?? keys.privateKey,
        signingAlgorithm: SIGN,
      });
      return Buffer.from(crl.rawData);
    },
  };
}
