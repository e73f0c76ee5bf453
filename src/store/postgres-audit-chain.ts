/**
 * Reading the audit chain (audit-chain.ts) from PostgreSQL for `estuary audit verify`. The time is
 * read as the text the chain trigger hashed (audit-chain-migration.ts), not through a JavaScript
 * Date, so verifying recomputes exactly the bytes the database hashed.
 */
import type { AuditChainLink, AuditChainStart } from './audit-chain.js';

type Query = (what: string, sql: string, values: unknown[]) => Promise<{ rows: Record<string, unknown>[] }>;

interface ChainRow {
  id: string; seq: string; at: string; actor: string; action: string; profile: string | null; outcome: string; serial: string | null;
  detail: string | null; client_ip: string | null; request_id: string | null; prev_hash: string; hash: string;
}

export async function readAuditChainPage(query: Query, afterSeq: number, limit: number): Promise<AuditChainLink[]> {
  const { rows } = await query('auditChainPage', `SELECT id, seq, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at,
    actor, action, profile, outcome, serial, detail, client_ip, request_id, prev_hash, hash
    FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2`, [afterSeq, limit]);
  return (rows as unknown as ChainRow[]).map((r) => ({
    id: Number(r.id), seq: Number(r.seq), at: r.at, actor: r.actor, action: r.action, profile: r.profile, outcome: r.outcome, serial: r.serial,
    detail: r.detail, clientIp: r.client_ip, requestId: r.request_id, prevHash: r.prev_hash, hash: r.hash,
  }));
}

export async function readAuditChainStart(query: Query): Promise<AuditChainStart> {
  const { rows } = await query('auditChainStart', 'SELECT COUNT(*)::int AS n, MAX(id) AS last FROM audit_events WHERE seq IS NULL', []);
  const r = rows[0] as { n: number; last: string | null };
  return { unchained: r.n, lastUnchainedId: r.last === null ? null : Number(r.last) };
}

/**
 * Copying a chained trail in (estuary db migrate): the events keep the links they were recorded
 * with (the trigger would renumber them); the chain goes on from the last one copied. Run in the
 * copy's transaction.
 */
export const KEEP_CHAIN_WHILE_COPYING = 'ALTER TABLE audit_events DISABLE TRIGGER audit_events_chain';
export const CONTINUE_CHAIN_AFTER_COPY = ['ALTER TABLE audit_events ENABLE TRIGGER audit_events_chain'];
