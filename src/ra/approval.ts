/** Pipeline stage 3, approval: RFC 7030 §4.2.3 manual profiles hold a request for an officer. */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { ParsedCsr } from '../pki/csr.js';
import { generalNameToString, nameToString } from '../pki/names.js';
import type { Store } from '../store/store.js';
import type { Profile } from './model.js';
import { RaError } from './errors.js';
import { describeKey } from './profile-policy.js';
import type { IssueNames } from './request-names.js';
import type { RequestOrigin } from './request-origin.js';

export interface ApprovalDeps {
  store: Store;
  now: () => Date;
  logger: Logger;
  /** Requests one requester may have held at once. */
  maxPending: number;
}

export type ApprovalOutcome =
  | { kind: 'pending'; retryAfterSeconds: number }
  /** An officer approved it: issue the held CSR (the re-sent one has the same key). */
  | { kind: 'approved'; id: number; csr: Buffer };

/**
 * RFC 7030 §4.2.3: a manual profile holds the request and answers 202; the client re-sends the
 * same request, identified by requester and public key, until an officer decides.
 */
export async function holdForApproval(
  d: ApprovalDeps, operation: string, p: Profile, requester: string, csr: ParsedCsr, names: IssueNames, origin: RequestOrigin,
): Promise<ApprovalOutcome> {
  const keyId = createHash('sha256').update(csr.spki).digest('hex');
  const now = d.now();
  const held = await d.store.findPendingRequest(p.label, requester, keyId);
  const pending = { kind: 'pending', retryAfterSeconds: p.retryAfterSeconds } as const;
  if (!held) {
    const waiting = await d.store.countPendingRequests({ status: 'pending', requester, expiresAfter: now });
    if (waiting >= d.maxPending) {
      throw new RaError('forbidden', `${requester} already has ${waiting} requests waiting for approval (at most ${d.maxPending}); retry once an officer has decided`);
    }
    const created = await d.store.createPendingRequest({
      profile: p.label, operation, requester, keyId, csr: csr.der, subject: nameToString(names.subject), sans: names.names.map(generalNameToString),
      keyDescription: describeKey(csr.key), createdAt: now, expiresAt: new Date(now.getTime() + p.pendingTtlHours * 3_600_000), ...origin,
    }, (r) => ({ actor: requester, action: operation, profile: p.label, outcome: 'pending', serial: null, detail: `request ${r.id} held for approval` }));
    d.logger.info({ op: operation, profile: p.label, actor: requester, request: created.id }, 'request held for approval');
    return pending;
  }
  switch (held.status) {
    case 'pending':
      if (now > held.expiresAt) throw new RaError('forbidden', `request ${held.id} expired on ${held.expiresAt.toISOString()} without a decision`);
      return pending;
    case 'rejected':
      throw new RaError('forbidden', `request ${held.id} was rejected${held.reason ? `: ${held.reason}` : ''}`);
    case 'approved':
      return { kind: 'approved', id: held.id, csr: held.csr };
    case 'issued':
      throw new Error(`request ${held.id} was already issued`); // findPendingRequest never returns these
  }
}
