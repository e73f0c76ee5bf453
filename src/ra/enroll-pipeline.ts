/**
 * The enrollment pipeline, one stage per step: authenticate → policy (the issuance template or a
 * typed refusal) → approval → issuance through the profile's CA connector → record. The CSR is
 * parsed once per request and the profile resolved once, by the caller.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { CaBadAnswerError, CaMisconfiguredError, CaRefusedError, CaUnavailableError, generatesServerKeys, type CaBackend, type IssueOperation, type IssueRequest, type IssueResult } from '../ca/ca-backend.js';
import type { KeyPackageSigner } from '../pki/key-package.js';
import { generalNameToString, nameToString } from '../pki/names.js';
import { StoreConflictError, type Store } from '../store/store.js';
import { type Profile } from './model.js';
import { holdForApproval, type ApprovalDeps } from './approval.js';
import { authenticateRequest, type AuthenticationDeps, type EnrollPrincipal } from './enroll-authentication.js';
import type { EnrollOperation, EnrollOutcome, EnrollRequest } from './enrollment-service.js';
import { RaError } from './errors.js';
import { admitApproved, admitRequest, issuanceTemplate, parseRequestCsr, type AdmittedRequest, type PolicyDeps } from './issuance-template.js';
import { encryptedKey, recipientFor } from './key-return.js';
import { requestOrigin } from './request-origin.js';
import type { GeneratedKey } from './server-keygen.js';

export interface PipelineDeps {
  store: Store;
  now: () => Date;
  logger: Logger;
  authentication: AuthenticationDeps;
  policy: PolicyDeps;
  approval: ApprovalDeps;
  maxCertificateBytes: number;
  /** RFC 7030 §4.4: the profile's key, generated off the event loop, a bounded number at a time. */
  serverGeneratedKey(p: Profile): Promise<GeneratedKey>;
  keyPackageSigner?: KeyPackageSigner | undefined;
  /** The RA's identifier of a request the connector sees (default: a random UUID). */
  requestId?: () => string;
}

const CONNECTOR_OPERATION: Record<EnrollOperation, IssueOperation> = {
  simpleenroll: 'enroll',
  simplereenroll: 'reenroll',
  serverkeygen: 'serverkeygen',
};

/** Stage 4: the connector's typed refusals become RA errors; CaUnavailableError, named by the connector, is left to the caller's 503 mapping. */
export async function issueThroughConnector(ca: CaBackend, request: IssueRequest): Promise<IssueResult> {
  try {
    return await ca.issue(request);
  } catch (err) {
    // globalsign/est errors.go: the CA's refusal reaches the client with its status and reason.
    if (err instanceof CaRefusedError) throw new RaError(err.status === 400 ? 'bad-request' : 'forbidden', err.message, { cause: err });
    // Not the client's fault: 502 naming the connector.
    if (err instanceof CaMisconfiguredError) throw new RaError('misconfigured', `CA connector "${ca.id}" is misconfigured: ${err.message}`, { cause: err });
    // Nothing is recorded or passed on: a certificate for another key or names the RA did not admit.
    if (err instanceof CaBadAnswerError) throw new RaError('misconfigured', `CA connector "${ca.id}": ${err.message}`, { cause: err });
    // RFC 7030 §4.2.3 (via RFC 9110 §15.6.4): 503 + Retry-After, with the reason as text.
    if (err instanceof CaUnavailableError) throw new CaUnavailableError(`CA connector "${ca.id}": ${err.message}`, { cause: err, ...(err.retryAfterSeconds !== undefined ? { retryAfterSeconds: err.retryAfterSeconds } : {}) });
    throw err;
  }
}

interface Issued {
  principal: EnrollPrincipal;
  admitted: AdmittedRequest;
  certificate: { der: Buffer; serialHex: string; notBefore: Date; notAfter: Date };
  approvedRequestId: number | undefined;
}

/** Stage 5: the certificate, its audit event, the supersession of a renewed one and the approved request's state commit together. */
export async function recordIssued(d: Pick<PipelineDeps, 'store' | 'now'>, req: EnrollRequest, p: Profile, ca: CaBackend, i: Issued): Promise<void> {
  const { principal, admitted, certificate, approvedRequestId } = i;
  const renews = principal.renewing?.serialHex ?? null;
  const supersede = renews && p.renewal.supersede
    ? { at: d.now(), event: { actor: principal.actor, action: 'cert.supersede', profile: p.label, outcome: 'success', serial: renews, detail: `superseded by ${certificate.serialHex} (simplereenroll)` } }
    : undefined;
  await d.store.recordIssuance(
    {
      serial: certificate.serialHex,
      profile: p.label,
      ca: ca.id,
      subject: nameToString(admitted.names.subject),
      sans: admitted.names.names.map(generalNameToString),
      notBefore: certificate.notBefore,
      notAfter: certificate.notAfter,
      der: certificate.der,
      requester: principal.actor,
      renews,
    },
    { actor: principal.actor, action: req.operation, profile: p.label, outcome: 'success', serial: certificate.serialHex, detail: approvedRequestId ? `approved request ${approvedRequestId}` : null },
    {
      // The renewed certificate is revoked (superseded), and the approved request marked issued, in the same transaction that records the certificate.
      ...(renews ? { renewal: { ...(supersede ? { supersede } : {}), once: p.renewal.once } } : {}),
      ...(approvedRequestId !== undefined ? { approvedRequestId } : {}),
    },
  ).catch(async (err: unknown) => {
    if (err instanceof StoreConflictError && renews && p.renewal.once && (await d.store.findRenewal(renews))) {
      throw new RaError('forbidden', `simplereenroll: the certificate has already been renewed; profile "${p.label}" renews each certificate once`);
    }
    if (err instanceof StoreConflictError && approvedRequestId !== undefined) {
      throw new RaError('forbidden', `request ${approvedRequestId} has already been issued; enroll again for another certificate`);
    }
    throw err;
  });
}

/** One enrollment through every stage. `audit.actor` names the requester once authenticated. */
export async function runEnrollPipeline(d: PipelineDeps, req: EnrollRequest, p: Profile, ca: CaBackend, audit: { actor: string }): Promise<EnrollOutcome> {
  // 1. authenticate
  const principal = await authenticateRequest(d.authentication, p, ca, req.operation === 'simplereenroll', req.credentials);
  audit.actor = principal.actor;

  // 2. policy
  const serverKeygen = req.operation === 'serverkeygen';
  let admitted = await admitRequest(d.policy, p, principal, parseRequestCsr(req.csr), serverKeygen, req.credentials);

  // 3. approval
  let approvedRequestId: number | undefined;
  if (p.approval === 'manual') {
    const origin = requestOrigin(p, principal, req.operation === 'simplereenroll', req.credentials);
    const held = await holdForApproval(d.approval, req.operation, p, principal.actor, admitted.csr, admitted.names, origin);
    if (held.kind === 'pending') return held;
    approvedRequestId = held.id;
    admitted = admitApproved(p, principal, admitted, held.csr);
  }
  const { csr } = admitted;

  // checked before anything is issued: a refused encrypted return must not leave a certificate behind
  const encryptTo = serverKeygen && csr.asymmetricDecryptKeyId !== undefined ? recipientFor(csr.asymmetricDecryptKeyId, req.credentials) : undefined;
  if (encryptTo && !d.keyPackageSigner) throw new RaError('not-implemented', 'encrypted server-generated keys need a signing key, and this server has none configured');
  // RFC 7030 §4.4: the RA makes the key, unless the connector's CA does (an upstream's /serverkeygen).
  // A key to be returned encrypted is always the RA's: an upstream would encrypt it to the RA, not to this client.
  const caMakesKey = serverKeygen && generatesServerKeys(ca) && !encryptTo;
  const generated = serverKeygen && !caMakesKey ? await d.serverGeneratedKey(p) : undefined;
  const template = issuanceTemplate(p, admitted, generated ?? { info: csr.key, spki: csr.spki }, d.maxCertificateBytes);

  // 4. issuance through the connector
  const result = await issueThroughConnector(ca, {
    operation: CONNECTOR_OPERATION[req.operation],
    csr: csr.der,
    template,
    ...(principal.certificate && principal.renewing ? { renewing: Buffer.from(principal.certificate.raw) } : {}),
    requestId: approvedRequestId !== undefined ? `request-${approvedRequestId}` : (d.requestId ?? randomUUID)(),
    requester: principal.actor,
    ...(generated ? { generatedKey: generated.pkcs8 } : {}),
  });
  switch (result.status) {
    case 'pending': {
      // RFC 7030 §4.2.3: the CA holds it; the client re-sends after Retry-After and the request is forwarded again.
      const detail = `held by CA connector "${ca.id}" (reference ${result.reference})`;
      await d.store.appendAudit({ actor: principal.actor, action: req.operation, profile: p.label, outcome: 'pending', serial: null, detail });
      d.logger.info({ op: req.operation, profile: p.label, actor: principal.actor, ca: ca.id, reference: result.reference }, 'request pending at the CA');
      return { kind: 'pending', retryAfterSeconds: result.retryAfterSeconds };
    }
    case 'issued':
      break;
  }
  const issued = result.certificate;
  const keyPkcs8 = generated?.pkcs8 ?? result.privateKey;
  if (serverKeygen && !keyPkcs8) throw new RaError('misconfigured', `CA connector "${ca.id}" returned no private key for serverkeygen`);

  // 5. record
  await recordIssued(d, req, p, ca, { principal, admitted, certificate: issued, approvedRequestId });
  if (!keyPkcs8) return { kind: 'issued', certificate: issued.der, serial: issued.serialHex };
  const privateKey = encryptTo
    ? { der: await encryptedKey(keyPkcs8, encryptTo, d.now(), csr.smimeCapabilities, d.keyPackageSigner!), encrypted: true }
    : { der: keyPkcs8, encrypted: false };
  return { kind: 'issued', certificate: issued.der, serial: issued.serialHex, privateKey };
}
