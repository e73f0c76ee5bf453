/**
 * The tamper-evident audit trail: every audit event carries its position in one chain (`seq`, 1, 2,
 * 3, … with no gap), the hash of the event before it (`prev_hash`) and its own `hash`:
 *
 *   hash = hex(SHA-256(UTF-8(canonical)))
 *   canonical = "EA1" || f(seq) || f(at) || f(actor) || f(action) || f(profile) || f(outcome)
 *               || f(serial) || f(detail) || f(client_ip) || f(request_id) || f(prev_hash)
 *   f(null) = "-";  f(v) = <number of UTF-8 bytes of v, decimal> ":" v
 *   at = ISO 8601 UTC with milliseconds, e.g. 2026-12-06T14:55:33.123Z
 *   the first chained event's prev_hash = 64 zeros (GENESIS_HASH)
 *
 * Length prefixes make the encoding unambiguous (no field can run into the next). The SQLite store
 * computes it here in its write transaction (the database write lock orders the chain); PostgreSQL
 * computes the same bytes in a trigger at commit under a transaction-level advisory lock, so instances
 * writing at once still make one chain (audit-chain-migration.ts). `estuary audit verify` recomputes
 * every hash here, independently of the database.
 *
 * Events recorded before the chain existed (before that migration) have no seq: they are the
 * history the chain starts after, reported as not covered. An event without seq recorded after the
 * chain began (its id above the first chained event's) is a broken link: its chain fields were removed.
 */
import { createHash } from 'node:crypto';

export const GENESIS_HASH = '0'.repeat(64);
const VERSION = 'EA1';

/** One chained event as stored, with `at` in its canonical text. */
export interface AuditChainLink {
  id: number;
  seq: number;
  at: string;
  actor: string;
  action: string;
  profile: string | null;
  outcome: string;
  serial: string | null;
  detail: string | null;
  clientIp: string | null;
  requestId: string | null;
  prevHash: string;
  hash: string;
}

/** The events from before the chain: how many, and the highest id among them. */
export interface AuditChainStart {
  unchained: number;
  lastUnchainedId: number | null;
}

/** What a chained store offers `verifyAuditChain` (part of Store). */
export interface AuditChainSource {
  /** Chained events with seq > afterSeq, in seq order, at most `limit`. */
  auditChainPage(afterSeq: number, limit: number): Promise<AuditChainLink[]>;
  auditChainStart(): Promise<AuditChainStart>;
}

function field(v: string | number | null): string {
  if (v === null) return '-';
  const s = String(v);
  return `${Buffer.byteLength(s, 'utf8')}:${s}`;
}

export type AuditHashInput = Omit<AuditChainLink, 'id' | 'hash'>;

/** The canonical encoding above, as text (hash its UTF-8). */
export function canonicalAuditText(e: AuditHashInput): string {
  return VERSION + field(e.seq) + field(e.at) + field(e.actor) + field(e.action) + field(e.profile) + field(e.outcome)
    + field(e.serial) + field(e.detail) + field(e.clientIp) + field(e.requestId) + field(e.prevHash);
}

export function auditHash(e: AuditHashInput): string {
  return createHash('sha256').update(canonicalAuditText(e), 'utf8').digest('hex');
}

export interface BrokenLink {
  /** The audit event's id (what the Web RA and the API show); null when the link missing is after the last event. */
  id: number | null;
  seq: number | null;
  /** What differs, in one sentence. */
  reason: string;
}

export interface ChainReport {
  /** Chained events checked. */
  checked: number;
  /** Events from before the chain (not covered by it). */
  unchained: number;
  /** The last event checked: record it elsewhere to notice a rewrite of the whole chain later. */
  head: { seq: number; hash: string } | null;
  broken?: BrokenLink;
}

const PAGE = 1000;

/**
 * Walks the chain from its start and stops at the first broken link: a gap in seq (events
 * removed), a prev_hash that is not the previous event's hash, or an event whose content no longer
 * gives its hash (changed).
 */
export async function verifyAuditChain(source: AuditChainSource, anchor?: { seq: number; hash: string }): Promise<ChainReport> {
  const start = await source.auditChainStart();
  let prev = GENESIS_HASH;
  let seq = 0;
  let minId = Infinity;
  let anchorSeen = false;
  const report = (broken?: BrokenLink): ChainReport => ({
    checked: seq, unchained: start.unchained, head: seq > 0 ? { seq, hash: prev } : null, ...(broken ? { broken } : {}),
  });
  for (;;) {
    const page = await source.auditChainPage(seq, PAGE);
    for (const link of page) {
      const expected = seq + 1;
      if (link.seq !== expected) {
        return report({ id: link.id, seq: link.seq, reason: `the chain jumps from seq ${seq} to ${link.seq}: ${link.seq - expected} event(s) before it were deleted` });
      }
      if (link.prevHash !== prev) {
        return report({ id: link.id, seq: link.seq, reason: `its prev_hash ${link.prevHash} is not the hash of event seq ${seq} (${prev}): the event before it was changed or replaced` });
      }
      const recomputed = auditHash(link);
      if (recomputed !== link.hash) {
        return report({ id: link.id, seq: link.seq, reason: `its content hashes to ${recomputed}, not to its stored hash ${link.hash}: the event was changed` });
      }
      if (anchor && anchor.seq === link.seq) {
        if (anchor.hash !== link.hash) return report({ id: link.id, seq: link.seq, reason: `its hash ${link.hash} is not the anchored ${anchor.hash}: the chain was rewritten up to here` });
        anchorSeen = true;
      }
      prev = link.hash;
      seq = link.seq;
      minId = Math.min(minId, link.id);
    }
    if (page.length < PAGE) break;
  }
  if (start.lastUnchainedId !== null && seq > 0 && start.lastUnchainedId > minId) {
    return report({ id: start.lastUnchainedId, seq: null, reason: 'it has no chain link (seq, prev_hash, hash) yet was recorded after the chain began: its chain fields were removed' });
  }
  if (anchor && !anchorSeen) {
    return report({ id: null, seq: anchor.seq, reason: `the chain ends at seq ${seq}, before the anchored seq ${anchor.seq}: events at its end were deleted` });
  }
  return report();
}
