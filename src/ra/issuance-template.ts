/**
 * Pipeline stage 2, policy: the CSR (parsed once per request) is checked against the profile and
 * turned into the issuance template the connector receives, or refused with a typed RaError.
 */
import type { IssuanceTemplate } from '../ca/ca-backend.js';
import { parseCsr, UnsupportedKeyError, verifyCsrSignature, type ParsedCsr, type PublicKeyInfo } from '../pki/csr.js';
import type { TaskGate } from '../pki/key-checks.js';
import { OID } from '../pki/oids.js';
import type { Store } from '../store/store.js';
import type { Account, Profile } from './model.js';
import type { Credentials } from './authenticators.js';
import type { EnrollPrincipal } from './enroll-authentication.js';
import { RaError } from './errors.js';
import { checkNames } from './name-policy.js';
import { checkPopLinking } from './pop-linking.js';
import { checkKey, describeKey, extendedKeyUsageOids, keyUsageFor } from './profile-policy.js';
import { admitNames, type IssueNames } from './request-names.js';

/** What a certificate holds beyond subject, SAN and key: issuer, validity, serial, profile extensions, a CA signature of up to RSA-4096. */
const CERTIFICATE_OVERHEAD_BYTES = 1536;

export interface PolicyDeps {
  store: Store;
  /** Bounds the RSA primality tests of pki/key-checks.ts. */
  primalityGate: TaskGate;
}

/** A request the profile admits: the CSR and the names to issue; the key is bound later (approval and key generation come first). */
export interface AdmittedRequest {
  csr: ParsedCsr;
  names: IssueNames;
  /** On a certificate-only renewal that changes the subject: the original requester, whose name globs apply. */
  requester: Account | null | undefined;
}

/** The request body as a PKCS#10 request; a key outside every profile is a policy refusal (403), anything else malformed (400). */
export type RequestCsr = ReturnType<typeof parseCsr>;

export function parseRequestCsr(der: Buffer): RequestCsr {
  try {
    return parseCsr(der);
  } catch (err) {
    // README "keyAlgorithms": a key type or curve outside every profile is a policy refusal (403)
    if (err instanceof UnsupportedKeyError) throw new RaError('forbidden', `key refused: ${err.message}`);
    throw new RaError('bad-request', `the body is not a valid PKCS#10 request: ${(err as Error).message}`);
  }
}

export async function admitRequest(
  d: PolicyDeps, p: Profile, principal: EnrollPrincipal, csr: RequestCsr, serverKeygen: boolean, creds: Credentials,
): Promise<AdmittedRequest> {
  if (serverKeygen) {
    // RFC 7030 §4.4.1: the CSR's public key and signature are ignored; the server makes the key.
    if (csr.attributeTypes.includes(OID.decryptKeyIdentifier)) {
      throw new RaError('not-implemented', 'symmetric encryption of server-generated keys (DecryptKeyIdentifier, RFC 7030 §4.4.1.1) is not supported by this server; use AsymmetricDecryptKeyIdentifier');
    }
  } else {
    let signatureOk: boolean;
    try {
      signatureOk = verifyCsrSignature(csr);
    } catch (err) {
      throw new RaError('bad-request', (err as Error).message);
    }
    if (!signatureOk) throw new RaError('bad-request', 'the CSR signature does not verify');
    const keyRefusal = await checkKey(p, csr.key, csr.spki, d.primalityGate);
    if (keyRefusal) throw new RaError('forbidden', keyRefusal);
  }
  checkPopLinking(p, principal, csr, creds);
  // RFC 7030 §4.2.2 ChangeSubjectName on a certificate-only renewal: the original requester's name globs apply
  const requester = principal.renewing && !principal.account && csr.changeSubjectName ? await requesterAccount(d.store, principal.actor) : undefined;
  const names = admitNames(p, principal, csr, requester);
  if (principal.owner && principal.owner !== principal.account) {
    // The account that obtained the certificate must still be allowed these names.
    const ownerRefusal = checkNames(p, principal.owner, names.subject, names.names);
    if (ownerRefusal) throw new RaError('forbidden', `simplereenroll: ${ownerRefusal}`);
  }
  return { csr, names, requester };
}

/** An officer approved a held request: issue its CSR (same key as the re-sent one), re-parsed only when the bytes differ. */
export function admitApproved(p: Profile, principal: EnrollPrincipal, admitted: AdmittedRequest, heldCsr: Buffer): AdmittedRequest {
  if (heldCsr.equals(admitted.csr.der)) return admitted;
  const csr = parseCsr(heldCsr);
  return { ...admitted, csr, names: admitNames(p, principal, csr, admitted.requester) };
}

/** The template for the key the certificate certifies (the CSR's, or the server-generated one); refused when the profile cannot apply to it. */
export function issuanceTemplate(
  p: Profile, admitted: AdmittedRequest, key: { info: PublicKeyInfo; spki: Buffer }, maxCertificateBytes: number,
): IssuanceTemplate {
  const keyUsage = keyUsageFor(p, key.info);
  if (!keyUsage) throw new RaError('forbidden', `the key usage of profile "${p.label}" (${p.keyUsage.join(', ')}) cannot apply to a ${describeKey(key.info)} key`);
  const { names, csr } = admitted;
  // The parts of the certificate the client chooses, plus a bound on what the CA adds (issuer, validity, extensions, signature).
  const estimatedBytes = csr.subject.length + (names.subjectAltName?.length ?? 0) + key.spki.length + CERTIFICATE_OVERHEAD_BYTES;
  if (estimatedBytes > maxCertificateBytes) {
    throw new RaError('forbidden', `the certificate would be about ${estimatedBytes} bytes, more than this server issues (${maxCertificateBytes}); request fewer or shorter names`);
  }
  return {
    subject: names.subject,
    spki: key.spki,
    subjectAltName: names.subjectAltName,
    validitySeconds: p.validitySeconds,
    keyUsage,
    extendedKeyUsage: extendedKeyUsageOids(p),
  };
}

/** The usable EST account behind a requester name, or null. */
async function requesterAccount(store: Store, email: string): Promise<Account | null> {
  const account = await store.getAccount(email);
  return account && account.role === 'est' && !account.disabled ? account : null;
}
