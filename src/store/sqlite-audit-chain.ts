/**
 * Appending to the audit chain (audit-chain.ts) on a SQLite connection: the head is read and the
 * event inserted with its link inside the caller's write transaction, which holds the database's
 * one write lock, so the writer thread, the main connection and a CLI process append in turn.
 */
import type Database from 'better-sqlite3';
import { auditHash, GENESIS_HASH, type AuditChainLink, type AuditChainStart } from './audit-chain.js';
import type { Params } from './sqlite-writer-protocol.js';

export const INSERT_CHAINED_AUDIT_SQL = `INSERT INTO audit_events (at, actor, action, profile, outcome, serial, detail, client_ip, request_id,
  seq, prev_hash, hash) VALUES (@at, @actor, @action, @profile, @outcome, @serial, @detail, @client_ip, @request_id, @seq, @prev_hash, @hash)`;
const HEAD_SQL = 'SELECT seq, hash FROM audit_events WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1';

/** Inserts audit rows (auditParams) with their chain link; call inside a write transaction. */
export function chainedAuditInsert(db: Database.Database): { run(params: Params): void } {
  const head = db.prepare<[], { seq: number; hash: string }>(HEAD_SQL);
  const insert = db.prepare(INSERT_CHAINED_AUDIT_SQL);
  return {
    run(p: Params): void {
      const last = head.get();
      const seq = (last?.seq ?? 0) + 1;
      const prevHash = last?.hash ?? GENESIS_HASH;
      const text = (k: string) => (p[k] ?? null) as string | null;
      const hash = auditHash({
        seq, at: p.at as string, actor: p.actor as string, action: p.action as string, profile: text('profile'), outcome: p.outcome as string,
        serial: text('serial'), detail: text('detail'), clientIp: text('client_ip'), requestId: text('request_id'), prevHash,
      });
      insert.run({ ...p, seq, prev_hash: prevHash, hash });
    },
  };
}

interface ChainRow {
  id: number; seq: number; at: string; actor: string; action: string; profile: string | null; outcome: string; serial: string | null;
  detail: string | null; client_ip: string | null; request_id: string | null; prev_hash: string; hash: string;
}

export function readAuditChainPage(db: Database.Database, afterSeq: number, limit: number): AuditChainLink[] {
  const rows = db.prepare<[number, number], ChainRow>(`SELECT id, seq, at, actor, action, profile, outcome, serial, detail, client_ip,
    request_id, prev_hash, hash FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?`).all(afterSeq, limit);
  return rows.map((r) => ({
    id: r.id, seq: r.seq, at: r.at, actor: r.actor, action: r.action, profile: r.profile, outcome: r.outcome, serial: r.serial,
    detail: r.detail, clientIp: r.client_ip, requestId: r.request_id, prevHash: r.prev_hash, hash: r.hash,
  }));
}

export function readAuditChainStart(db: Database.Database): AuditChainStart {
  const r = db.prepare<[], { n: number; last: number | null }>('SELECT COUNT(*) AS n, MAX(id) AS last FROM audit_events WHERE seq IS NULL').get()!;
  return { unchained: r.n, lastUnchainedId: r.last };
}
