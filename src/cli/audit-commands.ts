/**
 * `estuary audit verify`: walks the audit trail's hash chain (store/audit-chain.ts) in the
 * configured store (SQLite or PostgreSQL) and reports the first broken link. Exit 0 when the chain
 * holds, 3 when it is broken, 2 on bad input.
 */
import type { Command } from 'commander';
import { verifyAuditChain, type ChainReport } from '../store/audit-chain.js';
import { CliError, print, printJson, withStore, type HomeOption } from './context.js';

/** The exit code of a broken chain (1 is a crash, 2 bad input). */
export const CHAIN_BROKEN_EXIT = 3;

function parseAnchor(text: string): { seq: number; hash: string } {
  const m = /^(\d{1,15}):([0-9a-f]{64})$/i.exec(text.trim());
  if (!m || Number(m[1]) < 1) throw new CliError(`--anchor: expected <seq>:<sha-256 hex> as verify printed it (head: ...), got "${text}"`);
  return { seq: Number(m[1]), hash: m[2]!.toLowerCase() };
}

function describe(r: ChainReport): string[] {
  const before = r.unchained ? `; ${r.unchained} event(s) from before the chain began are not covered` : '';
  if (!r.broken) {
    return [
      `audit chain OK: ${r.checked} event(s) verified${before}`,
      r.head ? `head: ${r.head.seq}:${r.head.hash}` : 'head: none (no event recorded since the chain began)',
    ];
  }
  const where = r.broken.id === null ? `after the last event (seq ${r.broken.seq})` : `event id ${r.broken.id}${r.broken.seq === null ? '' : ` (seq ${r.broken.seq})`}`;
  return [
    `audit chain BROKEN at ${where}: ${r.broken.reason}`,
    `${r.checked} event(s) before it verified${before}`,
  ];
}

export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('the audit trail: verify its hash chain');
  audit
    .command('verify')
    .description(`check every audit event's hash and link to the one before; exit ${CHAIN_BROKEN_EXIT} at the first broken link`)
    .option('--anchor <seq:hash>', 'also require the event at seq to have this hash (a head printed by an earlier verify, kept elsewhere)')
    .option('--json', 'print the report as JSON')
    .option('--home <dir>', 'data directory')
    .action(async (opts: HomeOption & { anchor?: string; json?: boolean }) => {
      const anchor = opts.anchor === undefined ? undefined : parseAnchor(opts.anchor);
      const report = await withStore(opts, (store) => verifyAuditChain(store, anchor));
      if (opts.json) printJson(report);
      else for (const line of describe(report)) print(line);
      if (report.broken) process.exitCode = CHAIN_BROKEN_EXIT;
    });
}
