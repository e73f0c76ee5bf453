/**
 * The OCSP responder (RFC 6960) for the CAs that sign here: the status of each requested
 * certificate from the store, signed by the CA's delegated responder (or the CA key).
 * Outcomes a client must see are OCSP statuses in the response, never exceptions: a request
 * that does not parse is malformedRequest, a CertID of another issuer is unauthorized, a store
 * that cannot answer is tryLater.
 */
import { signsOcsp, type CaBackend, type OcspSigner } from '../ca/ca-backend.js';
import { certificateFields } from '../pki/certificate.js';
import { isCrlReason } from '../pki/crl.js';
import {
  basicResponse, errorResponse, matchesIssuer, OcspRequestError, parseOcspRequest, responseData, type CertStatus, type SingleResponse,
} from '../pki/ocsp.js';
import type { Store } from '../store/store.js';

export interface OcspService {
  /** True when this CA id exists and answers OCSP. */
  has(caId: string): boolean;
  /** The DER OCSPResponse to a DER OCSPRequest, or undefined when no such CA answers OCSP. */
  respond(caId: string, requestDer: Buffer): Promise<Buffer | undefined>;
}

export interface OcspServiceOptions {
  store: Store;
  cas: ReadonlyMap<string, CaBackend>;
  now: () => Date;
  /** nextUpdate of each SingleResponse. */
  validityMinutes: number;
  logger?: { error(obj: object, msg?: string): void };
}

export function createOcspService(o: OcspServiceOptions): OcspService {
  // by connector object: a CA reopened (rolled over, replaced) under the same id has other keys
  const issuers = new WeakMap<CaBackend, { name: Buffer; spki: Buffer }[]>();
  const issuersOf = async (ca: CaBackend & OcspSigner): Promise<{ name: Buffer; spki: Buffer }[]> => {
    let i = issuers.get(ca);
    if (!i) {
      if (ca.ocspIssuers) i = ca.ocspIssuers();
      else {
        const f = certificateFields(Buffer.from((await ca.chain())[0]!));
        i = [{ name: f.subject, spki: f.spki }];
      }
      issuers.set(ca, i);
    }
    return i;
  };

  const statusOf = async (caId: string, serialHex: string): Promise<CertStatus> => {
    const c = await o.store.getCertificate(serialHex);
    // RFC 6960 §2.2: unknown for a serial this CA never issued (as far as the store knows).
    if (!c || c.ca !== caId) return { kind: 'unknown' };
    if (c.status === 'revoked') {
      const reason = c.revocationReason && isCrlReason(c.revocationReason) ? c.revocationReason : 'unspecified';
      return { kind: 'revoked', at: c.revokedAt ?? c.createdAt, reason };
    }
    return { kind: 'good' };
  };

  return {
    has(caId) {
      const ca = o.cas.get(caId);
      return ca !== undefined && signsOcsp(ca);
    },

    async respond(caId, requestDer) {
      const ca = o.cas.get(caId);
      if (!ca || !signsOcsp(ca)) return undefined;
      let request;
      try {
        request = parseOcspRequest(requestDer);
      } catch (err) {
        if (err instanceof OcspRequestError) return errorResponse('malformedRequest');
        throw err;
      }
      // RFC 6960 §2.3: a responder answers only for the CA it serves, here one of its keys for the whole request.
      const issuer = (await issuersOf(ca)).find((i) => request.certIds.every((id) => matchesIssuer(id, i.name, i.spki)));
      if (!issuer) return errorResponse('unauthorized');
      const now = o.now();
      const thisUpdate = new Date(Math.floor(now.getTime() / 1000) * 1000);
      const nextUpdate = new Date(thisUpdate.getTime() + o.validityMinutes * 60_000);
      const responses: SingleResponse[] = [];
      try {
        for (const certId of request.certIds) responses.push({ certId, status: await statusOf(caId, certId.serialHex), thisUpdate, nextUpdate });
      } catch (err) {
        o.logger?.error({ err }, 'OCSP status lookup failed');
        return errorResponse('tryLater');
      }
      const responder = await ca.ocspResponder(now, issuer.spki);
      const tbs = responseData(responder.keyHash, thisUpdate, responses, request.nonce);
      return basicResponse(tbs, responder.signatureAlgorithm, await responder.sign(tbs), responder.certificates);
    },
  };
}
