/**
 * An officer's decision on a request held under manual approval (RFC 7030 §4.2.3): the
 * client's next re-send of the same CSR collects the certificate, or a 403 with the reason.
 * Shared by `estuary request approve|reject` and the Web RA.
 *
 * Four-eyes profiles (approvals: 2) need two different officers: the first approval is recorded
 * and the request stays pending until the second; one rejection is final. Nobody approves a
 * request they made or that names them (ownRequestReason), whatever the profile.
 */
import type { Store } from '../store/store.js';
import type { PendingRequest, PendingStatus } from './model.js';

export type Decision = 'approved' | 'rejected';

export interface DecideRequest {
  id: number;
  decision: Decision;
  /** Who decides, for the audit log. */
  officer: string;
  reason: string | null;
  now: Date;
}

/** Expected outcomes are values; only store failures throw. */
export type DecisionOutcome =
  | { kind: 'decided'; request: PendingRequest }
  /** Four-eyes: this approval was the first; the request waits for another officer's. */
  | { kind: 'first-approval'; request: PendingRequest }
  | { kind: 'not-found'; id: number }
  | { kind: 'not-pending'; id: number; status: PendingStatus }
  | { kind: 'expired'; id: number; expiresAt: Date }
  /** Another officer decided between our read and our write. */
  | { kind: 'raced'; id: number }
  /** The officer made the request, or it names them. */
  | { kind: 'own-request'; id: number; why: string }
  /** Four-eyes: the officer already gave the first approval. */
  | { kind: 'second-approval-needed'; id: number; firstBy: string };

export const ACTION_OF_DECISION: Record<Decision, string> = { approved: 'request.approve', rejected: 'request.reject' };

const same = (a: string, b: string): boolean => a.trim().toLowerCase() === b.trim().toLowerCase();

/** The values of a name written "CN=a, emailAddress=b" (client-cert.ts subjectOf, pki/names.ts nameToString). */
function nameValues(name: string, attributes: readonly string[]): string[] {
  return name.split(/,\s*|\n/).map((rdn) => rdn.split('=')).filter(([k]) => attributes.includes((k ?? '').trim())).map(([, ...v]) => v.join('='));
}

/**
 * Why `officer` may not approve `r`, if they may not: they are its requester (the EST account, or
 * the client certificate's subject), the client certificate that authenticated it names them, or
 * the certificate requested would name them (subject CN or emailAddress, email SAN).
 */
export function ownRequestReason(officer: string, r: PendingRequest): string | undefined {
  if (same(officer, r.requester)) return `${officer} made request ${r.id}`;
  const cert = r.clientCertificate;
  if (cert && nameValues(cert.subject, ['CN', 'emailAddress', 'E']).some((v) => same(v, officer))) {
    return `request ${r.id} was made with a client certificate naming ${officer} (${cert.subject})`;
  }
  const requested = [...nameValues(r.subject, ['CN', 'emailAddress', 'E']), ...r.sans.filter((s) => /^email:/i.test(s)).map((s) => s.slice(6))];
  if (requested.some((v) => same(v, officer))) return `request ${r.id} asks for a certificate naming ${officer}`;
  return undefined;
}

export async function decideRequest(store: Store, d: DecideRequest): Promise<DecisionOutcome> {
  const r = await store.getPendingRequest(d.id);
  if (!r) return { kind: 'not-found', id: d.id };
  if (r.status !== 'pending') return { kind: 'not-pending', id: d.id, status: r.status };
  if (d.now > r.expiresAt) return { kind: 'expired', id: d.id, expiresAt: r.expiresAt };
  const note = d.reason ? `: ${d.reason}` : '';
  const event = (detail: string, outcome = 'success') => ({
    actor: d.officer, action: ACTION_OF_DECISION[d.decision], profile: r.profile, outcome, serial: null, detail: `request ${d.id} (${r.subject})${detail}`, at: d.now,
  });
  if (d.decision === 'rejected') {
    // one rejection is final, also after a first approval
    if (!(await store.decidePendingRequest(d.id, d.decision, d.officer, d.reason, d.now, event(note)))) return { kind: 'raced', id: d.id };
    return { kind: 'decided', request: { ...r, status: d.decision, reason: d.reason, decidedBy: d.officer, decidedAt: d.now } };
  }
  const own = ownRequestReason(d.officer, r);
  if (own) return { kind: 'own-request', id: d.id, why: own };
  const required = (await store.getProfile(r.profile))?.approvals ?? 1;
  if (required === 2 && r.firstApproval && same(r.firstApproval.by, d.officer)) return { kind: 'second-approval-needed', id: d.id, firstBy: r.firstApproval.by };
  const events = {
    first: event(`: first of two approvals${note}`, 'first-approval'),
    approved: event(r.firstApproval && required === 2 ? `: second approval, after ${r.firstApproval.by}${note}` : note),
  };
  const result = await store.approvePendingRequest(d.id, d.officer, required, d.reason, d.now, events);
  switch (result) {
    case undefined:
      return { kind: 'raced', id: d.id };
    case 'first-approval':
      return { kind: 'first-approval', request: { ...r, firstApproval: { by: d.officer, at: d.now } } };
    case 'approved':
      return { kind: 'decided', request: { ...r, status: 'approved', reason: d.reason, decidedBy: d.officer, decidedAt: d.now } };
  }
}

/** Why a decision was not taken, in words every surface shows. */
export function decisionRefusal(o: Exclude<DecisionOutcome, { kind: 'decided' | 'first-approval' }>): string {
  switch (o.kind) {
    case 'not-found':
      return `no request ${o.id}`;
    case 'not-pending':
      return `request ${o.id} is ${o.status}, not pending`;
    case 'expired':
      return `request ${o.id} expired on ${o.expiresAt.toISOString()}`;
    case 'raced':
      return `request ${o.id} was decided meanwhile`;
    case 'own-request':
      return `nobody approves their own request: ${o.why}`;
    case 'second-approval-needed':
      return `request ${o.id} needs a second approval by another officer than ${o.firstBy} (four-eyes)`;
  }
}
