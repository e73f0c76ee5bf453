import { isValidOid } from './der.js';

/** Named object identifiers. Domain code uses these names, never bare dotted strings. */
export const OID = {
  // algorithms
  rsaEncryption: '1.2.840.113549.1.1.1',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  sha384WithRSAEncryption: '1.2.840.113549.1.1.12',
  sha512WithRSAEncryption: '1.2.840.113549.1.1.13',
  rsassaPss: '1.2.840.113549.1.1.10',
  ecPublicKey: '1.2.840.10045.2.1',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  ecdsaWithSHA384: '1.2.840.10045.4.3.3',
  ecdsaWithSHA512: '1.2.840.10045.4.3.4',
  ed25519: '1.3.101.112',
  secp256r1: '1.2.840.10045.3.1.7',
  secp384r1: '1.3.132.0.34',
  secp521r1: '1.3.132.0.35',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  // content encryption and key wrap (RFC 3565)
  aes128CBC: '2.16.840.1.101.3.4.1.2',
  aes192CBC: '2.16.840.1.101.3.4.1.22',
  aes256CBC: '2.16.840.1.101.3.4.1.42',
  aes128Wrap: '2.16.840.1.101.3.4.1.5',
  aes192Wrap: '2.16.840.1.101.3.4.1.25',
  aes256Wrap: '2.16.840.1.101.3.4.1.45',
  // PKCS#9 attributes
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  // RFC 8551 §2.5.2 (attribute) / RFC 4262 (extension): the client's preferred algorithms
  smimeCapabilities: '1.2.840.113549.1.9.15',
  challengePassword: '1.2.840.113549.1.9.7',
  extensionRequest: '1.2.840.113549.1.9.14',
  unstructuredName: '1.2.840.113549.1.9.2',
  friendlyName: '1.2.840.113549.1.9.20',
  // RFC 9908 (CSR attributes): template attributes in /csrattrs
  certificationRequestInfoTemplate: '1.2.840.113549.1.9.16.2.61',
  extensionReqTemplate: '1.2.840.113549.1.9.16.2.62',
  // RFC 2307 macAddress, asked for in RFC 7030's /csrattrs example
  macAddress: '1.3.6.1.1.1.1.22',
  // RFC 7030 §4.4.1.2: encrypted server-generated key return
  decryptKeyIdentifier: '1.2.840.113549.1.9.16.2.37',
  asymmetricDecryptKeyIdentifier: '1.2.840.113549.1.9.16.2.54',
  // CMS content types
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  envelopedData: '1.2.840.113549.1.7.3',
  // RFC 5958: AsymmetricKeyPackage content type
  aKeyPackage: '2.16.840.1.101.2.1.2.78.5',
  // certificate extensions
  subjectDirectoryAttributes: '2.5.29.9',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  cRLDistributionPoints: '2.5.29.31',
  cRLNumber: '2.5.29.20',
  cRLReason: '2.5.29.21',
  deltaCRLIndicator: '2.5.29.27',
  issuingDistributionPoint: '2.5.29.28',
  freshestCRL: '2.5.29.46',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  // access methods (RFC 5280 §4.2.2.1) and OCSP (RFC 6960)
  accessOcsp: '1.3.6.1.5.5.7.48.1',
  ocspBasic: '1.3.6.1.5.5.7.48.1.1',
  ocspNonce: '1.3.6.1.5.5.7.48.1.2',
  ocspNoCheck: '1.3.6.1.5.5.7.48.1.5',
  sha1: '1.3.14.3.2.26',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  issuerAltName: '2.5.29.18',
  nameConstraints: '2.5.29.30',
  certificatePolicies: '2.5.29.32',
  policyMappings: '2.5.29.33',
  policyConstraints: '2.5.29.36',
  inhibitAnyPolicy: '2.5.29.54',
  // extended key usages
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
  cmcRA: '1.3.6.1.5.5.7.3.28',
  // RFC 6402 §2.8: id-cmc-changeSubjectName (id-cmc 36), a CSR attribute asking for new names on renewal
  changeSubjectName: '1.3.6.1.5.5.7.7.36',
  // name attributes
  commonName: '2.5.4.3',
  serialNumber: '2.5.4.5',
  countryName: '2.5.4.6',
  localityName: '2.5.4.7',
  stateOrProvinceName: '2.5.4.8',
  organizationName: '2.5.4.10',
  organizationalUnitName: '2.5.4.11',
  emailAddress: '1.2.840.113549.1.9.1',
  domainComponent: '0.9.2342.19200300.100.1.25',
} as const;

export type OidName = keyof typeof OID;

const NAME_BY_OID = new Map<string, string>(Object.entries(OID).map(([name, oid]) => [oid, name]));

/** The name of a known OID, or the dotted form. */
export function oidName(oid: string): string {
  return NAME_BY_OID.get(oid) ?? oid;
}

/** Resolve a name (or an already dotted OID) to dotted form; undefined when unknown. */
export function resolveOid(nameOrOid: string): string | undefined {
  if (/^[\d.]+$/.test(nameOrOid)) return isValidOid(nameOrOid) ? nameOrOid : undefined;
  return (OID as Record<string, string>)[nameOrOid];
}
