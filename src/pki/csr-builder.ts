/**
 * PKCS#10 certification requests (RFC 2986) built with the DER writer and signed with node:crypto.
 * Attributes: challengePassword (PKCS#9, RFC 2985 §5.4.1; RFC 7030 §3.5 carries the channel
 * binding there), extensionRequest (RFC 2985 §5.4.2) with the SANs and any extra extensions, and
 * caller-supplied attributes (e.g. RFC 7030 §4.4.1.2 AsymmetricDecryptKeyIdentifier).
 */
import { sign as cryptoSign, type KeyObject } from 'node:crypto';
import { CURVES, curveOfKey, signatureAlgorithmIdentifier, type HashName } from './algorithms.js';
import { extension } from './certificate.js';
import { bitString, children, decodeOid, oid, readTop, seq, seqOf, setOf, smallInteger, TAG, tlv, tlvOf, value } from './der.js';
import { encodeGeneralNames, encodeName, type GeneralName } from './names.js';
import { OID, oidName } from './oids.js';

export type CsrHash = HashName;

export interface CsrSans {
  dns?: string[];
  ip?: string[];
  email?: string[];
  uri?: string[];
}

export interface CsrInput {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /**
   * "CN=x, O=y" (encodeName; "" gives an empty Name), or a DER Name used byte for byte (RFC 7030
   * §4.2.2: a reenroll repeats the Subject of the certificate being renewed).
   */
  subject: string | Buffer;
  sans?: CsrSans;
  /** RFC 7030 §3.5 PoP: base64 of the TLS channel binding. Omitted when undefined or "". */
  challengePassword?: string;
  /** Ignored for Ed25519. Default: sha256 for P-256 and RSA, sha384 for P-384, sha512 for P-521. */
  hash?: CsrHash;
  /** Further attributes, each value an encoded TLV. */
  extraAttributes?: { type: string; values: Buffer[] }[];
  /** Encoded Extension TLVs added to extensionRequest (e.g. from /csrattrs). */
  extraExtensions?: Buffer[];
}

export class CsrBuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CsrBuildError';
  }
}

/**
 * The CSR signature algorithm for a key and an optional hash: ECDSA (RFC 5758 §3.2, no
 * parameters), RSA PKCS#1 v1.5 (RFC 4055 §5, NULL parameters), Ed25519 (RFC 8410 §3, no hash).
 */
export function csrSignatureScheme(key: KeyObject, hash?: CsrHash): { algorithmIdentifier: Buffer; hash: CsrHash | null } {
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curve = curveOfKey(key);
      if (!curve) throw new CsrBuildError(`unsupported elliptic curve ${key.asymmetricKeyDetails?.namedCurve ?? 'unknown'} (${CURVES.map((c) => c.name).join(', ').replace(/, ([^,]*)$/, ' or $1')})`);
      const h = hash ?? curve.hash;
      return { algorithmIdentifier: signatureAlgorithmIdentifier('ec', h), hash: h };
    }
    case 'rsa': {
      const h = hash ?? 'sha256';
      return { algorithmIdentifier: signatureAlgorithmIdentifier('rsa', h), hash: h };
    }
    case 'ed25519':
      return { algorithmIdentifier: signatureAlgorithmIdentifier('ed25519', null), hash: null };
    default:
      throw new CsrBuildError(`unsupported key type ${key.asymmetricKeyType ?? 'unknown'} for a CSR`);
  }
}

/** The SANs as GeneralNames, in the order dns, ip, email, uri. */
export function sanGeneralNames(sans: CsrSans | undefined): GeneralName[] {
  return [
    ...(sans?.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(sans?.ip ?? []).map((value) => ({ type: 'ip' as const, value })),
    ...(sans?.email ?? []).map((value) => ({ type: 'email' as const, value })),
    ...(sans?.uri ?? []).map((value) => ({ type: 'uri' as const, value })),
  ];
}

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]+$/;

/** RFC 2985 §5.4.1: DirectoryString of 1..255 characters; PrintableString when it fits (base64 does), else UTF8String. */
function challengePasswordValue(pw: string): Buffer {
  if ([...pw].length > 255) throw new CsrBuildError('challengePassword is limited to 255 characters (RFC 2985 §5.4.1)');
  return tlv(PRINTABLE.test(pw) ? TAG.PrintableString : TAG.UTF8String, Buffer.from(pw, 'utf8'));
}

/** The extnID of an encoded Extension. */
export function extensionOid(ext: Buffer): string {
  const [id] = children(ext, readTop(ext));
  if (!id || id.tag !== TAG.OID) throw new CsrBuildError('extraExtensions: each entry must be an encoded Extension');
  return decodeOid(value(ext, id));
}

/** Build and sign a DER PKCS#10 request. */
export function buildCsr(input: CsrInput): Buffer {
  const scheme = csrSignatureScheme(input.privateKey, input.hash);
  let subject: Buffer;
  try {
    if (typeof input.subject === 'string') subject = encodeName(input.subject);
    else if (readTop(input.subject).tag === TAG.SEQUENCE) subject = input.subject;
    else throw new Error('a DER Name must be a SEQUENCE');
  } catch (err) {
    throw new CsrBuildError(`subject: ${(err as Error).message}`);
  }
  const spki = input.publicKey.export({ type: 'spki', format: 'der' });

  const extensions: Buffer[] = [];
  const names = sanGeneralNames(input.sans);
  if (names.length > 0) {
    let gn: Buffer;
    try {
      gn = encodeGeneralNames(names);
    } catch (err) {
      throw new CsrBuildError(`subjectAltName: ${(err as Error).message}`);
    }
    // RFC 5280 §4.2.1.6: critical when the subject is empty
    extensions.push(extension(OID.subjectAltName, subject.length === 2, gn));
  }
  extensions.push(...(input.extraExtensions ?? []));
  const seen = new Set<string>();
  for (const ext of extensions) {
    const id = extensionOid(ext);
    // RFC 5280 §4.2: a certificate must not include more than one instance of an extension
    if (seen.has(id)) throw new CsrBuildError(`extension ${oidName(id)} given twice (e.g. SANs both from the command line and from /csrattrs)`);
    seen.add(id);
  }

  const attributes: Buffer[] = [];
  if (input.challengePassword !== undefined && input.challengePassword !== '') {
    attributes.push(seq(oid(OID.challengePassword), setOf([challengePasswordValue(input.challengePassword)])));
  }
  if (extensions.length > 0) attributes.push(seq(oid(OID.extensionRequest), setOf([seqOf(extensions)])));
  for (const a of input.extraAttributes ?? []) {
    if (a.values.length === 0) throw new CsrBuildError(`attribute ${oidName(a.type)} needs at least one value`);
    if (a.type === OID.challengePassword || a.type === OID.extensionRequest) throw new CsrBuildError(`attribute ${oidName(a.type)} is built from its own input field`);
    attributes.push(seq(oid(a.type), setOf(a.values)));
  }

  // RFC 2986 §4.1: attributes [0] IMPLICIT SET OF Attribute (DER: sorted encodings)
  const info = seq(smallInteger(0), subject, spki, tlvOf(0xa0, [...attributes].sort(Buffer.compare)));
  const signature = cryptoSign(scheme.hash, info, { key: input.privateKey, dsaEncoding: 'der' });
  return seq(info, scheme.algorithmIdentifier, bitString(signature));
}
