/**
 * The names a certificate is issued with: the request's names checked for syntax (400), then
 * against the profile's name policy, the account's globs and the TLS client certificate binding
 * (403); on simplereenroll the rules of RFC 7030 §4.2.2, including ChangeSubjectName.
 */
import type { CertificateFields } from '../pki/certificate.js';
import type { ParsedCsr } from '../pki/csr.js';
import { generalNameSetsMatch, namesMatch } from '../pki/name-compare.js';
import { generalNamesDerProblem, nameDerProblem } from '../pki/name-syntax.js';
import { nameToString, parseChangeSubjectName, parseGeneralNames, type GeneralName } from '../pki/names.js';
import { OID } from '../pki/oids.js';
import type { Account, Profile } from './model.js';
import type { Principal } from './authenticators.js';
import { RaError } from './errors.js';
import { checkClientBinding } from './identity-binding.js';
import { checkNames } from './name-policy.js';
import { requestedNames } from './profile-policy.js';

/** What the certificate will carry: the subject DER, the subjectAltName extnValue, the SANs decoded. */
export interface IssueNames {
  subject: Buffer;
  subjectAltName: Buffer | undefined;
  names: GeneralName[];
}

/** 400 when a Name or GeneralNames is malformed; the hard limits of pki/name-syntax.ts apply. */
function checkSyntax(subject: Buffer, subjectAltName: Buffer | undefined, what = 'the request'): void {
  const bad = nameDerProblem(subject) ?? (subjectAltName ? generalNamesDerProblem(subjectAltName) : undefined);
  if (bad) throw new RaError('bad-request', what === 'the request' ? bad : `${what}: ${bad}`);
}

/**
 * The names to issue for a new request (simpleenroll, serverkeygen) or a renewal. Throws RaError.
 * `requester`: on a renewal that asks for new names without HTTP Basic, the EST account that
 * requested the certificate being renewed (null when it is gone or disabled): its name globs apply.
 */
export function admitNames(p: Profile, principal: Principal & { renewing?: CertificateFields }, csr: ParsedCsr, requester?: Account | null): IssueNames {
  checkSyntax(csr.subject, csr.requestedExtensions.get(OID.subjectAltName));
  const requested = requestedNames(csr);
  if (typeof requested === 'string') throw new RaError('forbidden', requested);
  const refusal = checkNames(p, principal.account, csr.subject, requested.names);
  if (refusal) throw new RaError('forbidden', refusal);
  if (principal.renewing) return renewalNames(p, principal.account ?? requester, principal.renewing, csr, requested.names);
  if (csr.changeSubjectName) {
    throw new RaError('bad-request', 'ChangeSubjectName (RFC 6402 §2.8) applies to simplereenroll only; a new enrollment requests its names in the subject and subjectAltName');
  }
  const bound = checkClientBinding(p, principal.certificate ? { certificate: principal.certificate, anchor: principal.anchor } : undefined, csr.subject, requested.names);
  if (bound) throw new RaError('forbidden', bound);
  return { subject: csr.subject, subjectAltName: requested.subjectAltName, names: requested.names };
}

function renewalNames(p: Profile, account: Account | null | undefined, current: CertificateFields, csr: ParsedCsr, requested: GeneralName[]): IssueNames {
  const currentNames = current.subjectAltName ? parseGeneralNames(current.subjectAltName) : [];
  // RFC 7030 §4.2.2: Subject and SubjectAltName MUST be identical to the current certificate's,
  // compared as RFC 5280 §7.1 names and as sets of GeneralNames (DNS names case-insensitively).
  if (!namesMatch(current.subject, csr.subject)) {
    throw new RaError('forbidden', `simplereenroll: the CSR subject differs from the certificate being renewed ("${nameToString(csr.subject)}" requested, "${nameToString(current.subject)}" held); ChangeSubjectName (RFC 6402 §2.8) requests new names`);
  }
  if (!generalNameSetsMatch(currentNames, requested)) throw new RaError('forbidden', 'simplereenroll: the CSR subjectAltName differs from the certificate being renewed');
  // The renewed certificate keeps the current encoding of its names.
  if (!csr.changeSubjectName) return { subject: current.subject, subjectAltName: current.subjectAltName, names: currentNames };

  // RFC 7030 §4.2.2: "The ChangeSubjectName attribute ... MAY be included in the CSR to request
  // that these fields be changed in the new certificate": the new names, under the profile's rules.
  let change: ReturnType<typeof parseChangeSubjectName>;
  try {
    change = parseChangeSubjectName(csr.changeSubjectName);
  } catch (err) {
    throw new RaError('bad-request', `the ChangeSubjectName attribute is not valid: ${(err as Error).message}`);
  }
  const subject = change.subject ?? current.subject;
  const subjectAltName = change.subjectAlt ?? current.subjectAltName;
  checkSyntax(subject, subjectAltName, 'ChangeSubjectName');
  const binding = p.namePolicy.clientBinding.mode;
  if (p.auth !== 'basic' && binding !== 'free') {
    throw new RaError('forbidden', `ChangeSubjectName is not honoured on profile "${p.label}": its names are bound to the TLS client certificate (client binding "${binding}")`);
  }
  const names = subjectAltName ? parseGeneralNames(subjectAltName) : [];
  if (names.some((n) => n.type === 'other')) throw new RaError('forbidden', 'ChangeSubjectName: the new subjectAltName has a name type that is not allowed (allowed: DNS, IP, email, URI)');
  if (subject.length === 2 && names.length === 0) throw new RaError('forbidden', 'ChangeSubjectName: the new names have neither a subject nor a subjectAltName');
  // The renaming certificate speaks for the account that requested it: that account's names bound the new ones.
  if (p.auth === 'basic' && !account) throw new RaError('forbidden', 'ChangeSubjectName: the EST account that requested the certificate being renewed no longer exists or is disabled');
  const refusal = checkNames(p, account ?? undefined, subject, names);
  if (refusal) throw new RaError('forbidden', `ChangeSubjectName: ${refusal}`);
  return { subject, subjectAltName, names };
}
