/** `estuary request list|show|approve|reject`: the officer's side of manual approval. */
import { cliActor } from './cli-actor.js';
import type { Command } from 'commander';
import type { PendingRequest, PendingStatus } from '../ra/model.js';
import { decideRequest, decisionRefusal } from '../ra/request-decisions.js';
import { requestWarnings } from '../ra/request-overlaps.js';
import { CliError, print, printField, printJson, printTable, withStore, type HomeOption } from './context.js';

const STATUSES: readonly PendingStatus[] = ['pending', 'approved', 'rejected', 'issued'];

function view(r: PendingRequest, now: Date): Record<string, unknown> {
  const { csr: _csr, ...rest } = r;
  return {
    ...rest,
    expired: r.status === 'pending' && now > r.expiresAt,
    createdAt: r.createdAt.toISOString(),
    expiresAt: r.expiresAt.toISOString(),
    decidedAt: r.decidedAt?.toISOString() ?? null,
    firstApproval: r.firstApproval ? { by: r.firstApproval.by, at: r.firstApproval.at.toISOString() } : null,
  };
}

function requestId(text: string): number {
  const id = Number(text);
  if (!Number.isSafeInteger(id) || id < 1) throw new CliError(`"${text}" is not a request id`);
  return id;
}

const defaultOfficer = (): string => cliActor();

export function registerRequestCommands(program: Command): void {
  const request = program.command('request').description('requests held for approval on manual profiles (works while the server runs)');

  request
    .command('list')
    .description('list held requests, newest first (default: pending only)')
    .option('--status <status>', `${STATUSES.join(', ')} or all`, 'pending')
    .option('--profile <label>', 'only this profile')
    .option('--json', 'print JSON')
    .option('--home <dir>', 'data directory')
    .action(async (opts: HomeOption & { status: string; profile?: string; json?: boolean }) => {
      if (opts.status !== 'all' && !(STATUSES as readonly string[]).includes(opts.status)) throw new CliError(`--status: expected ${STATUSES.join(', ')} or all`);
      await withStore(opts, async (store) => {
        const list = await store.listPendingRequests({
          ...(opts.status !== 'all' ? { status: opts.status as PendingStatus } : {}),
          ...(opts.profile ? { profile: opts.profile } : {}),
        });
        const now = new Date();
        if (opts.json) return printJson(list.map((r) => view(r, now)));
        printTable(
          ['ID', 'PROFILE', 'STATUS', 'REQUESTER', 'SUBJECT', 'SANS', 'KEY', 'AGE'],
          list.map((r) => [String(r.id), r.profile, r.status === 'pending' && now > r.expiresAt ? 'expired' : r.status, r.requester, r.subject, r.sans.join(' '), r.keyDescription, `${Math.round((now.getTime() - r.createdAt.getTime()) / 60_000)}m`]),
        );
      });
    });

  request
    .command('show <id>')
    .description('show one held request, with warnings when the same subject or key is pending or valid')
    .option('--json', 'print JSON')
    .option('--home <dir>', 'data directory')
    .action(async (id: string, opts: HomeOption & { json?: boolean }) => {
      await withStore(opts, async (store) => {
        const r = await store.getPendingRequest(requestId(id));
        if (!r) throw new CliError(`no request ${id}`);
        const now = new Date();
        const warnings = (await requestWarnings(store, [r], now)).get(r.id) ?? [];
        const v = { ...view(r, now), warnings: warnings.map((w) => w.message) };
        if (opts.json) return printJson(v);
        for (const [k, val] of Object.entries(v)) printField(k, val);
      });
    });

  for (const [name, decision] of [['approve', 'approved'], ['reject', 'rejected']] as const) {
    request
      .command(`${name} <id>`)
      .description(`${name} a pending request; the client's next re-send gets ${decision === 'approved' ? 'the certificate' : '403 with the reason'}`)
      .option('--reason <text>', decision === 'rejected' ? 'why (shown to the client)' : 'a note for the audit log')
      .option('--officer <name>', 'who decides, for the audit log', defaultOfficer())
      .option('--home <dir>', 'data directory')
      .action(async (id: string, opts: HomeOption & { reason?: string; officer: string }) => {
        const n = requestId(id);
        await withStore(opts, async (store) => {
          const outcome = await decideRequest(store, { id: n, decision, officer: opts.officer, reason: opts.reason ?? null, now: new Date() });
          switch (outcome.kind) {
            case 'decided':
              return print(`request ${n} ${decision}`);
            case 'first-approval':
              return print(`request ${n}: first approval recorded by ${opts.officer}; it stays pending until another officer approves it (four-eyes)`);
            default:
              throw new CliError(decisionRefusal(outcome));
          }
        });
      });
  }
}
