/**
 * An officer's decision on a request held under manual approval (RFC 7030 §4.2.3): the
 * client's next re-send of the same CSR collects the certificate, or a 403 with the reason.
 * Shared by `estuary request approve|reject` and the Web RA.
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
  | { kind: 'not-found'; id: number }
  | { kind: 'not-pending'; id: number; status: PendingStatus }
  | { kind: 'expired'; id: number; expiresAt: Date }
  /** Another officer decided between our read and our write. */
  | { kind: 'raced'; id: number };

export const ACTION_OF_DECISION: Record<Decision, string> = { approved: 'request.approve', rejected: 'request.reject' };

export async function decideRequest(store: Store, d: DecideRequest): Promise<DecisionOutcome> {
  const r = await store.getPendingRequest(d.id);
  if (!r) return { kind: 'not-found', id: d.id };
  if (r.status !== 'pending') return { kind: 'not-pending', id: d.id, status: r.status };
  if (d.now > r.expiresAt) return { kind: 'expired', id: d.id, expiresAt: r.expiresAt };
  const event = {
    actor: d.officer, action: ACTION_OF_DECISION[d.decision], profile: r.profile, outcome: 'success', serial: null,
    detail: `request ${d.id} (${r.subject})${d.reason ? `: ${d.reason}` : ''}`, at: d.now,
  };
  if (!(await store.decidePendingRequest(d.id, d.decision, d.officer, d.reason, d.now, event))) return { kind: 'raced', id: d.id };
  return { kind: 'decided', request: { ...r, status: d.decision, reason: d.reason, decidedBy: d.officer, decidedAt: d.now } };
}

/** Why a decision was not taken, in words every surface shows. */
export function decisionRefusal(o: Exclude<DecisionOutcome, { kind: 'decided' }>): string {
  switch (o.kind) {
    case 'not-found':
      return `no request ${o.id}`;
    case 'not-pending':
      return `request ${o.id} is ${o.status}, not pending`;
    case 'expired':
      return `request ${o.id} expired on ${o.expiresAt.toISOString()}`;
    case 'raced':
      return `request ${o.id} was decided meanwhile`;
  }
}
