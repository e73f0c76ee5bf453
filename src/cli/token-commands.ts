/**
 * `estuary token create|list|revoke`: API tokens of the Web RA's JSON API (admin/api-tokens.ts)
 * from the host, e.g. to bootstrap automation before anyone signs in. Works while the server runs
 * (it reads tokens from the store on every call).
 */
import type { Command } from 'commander';
import { ADMIN_ROLES, type AdminRole } from '../ra/model.js';
import { StoreConflictError, type ApiToken, type Store } from '../store/store.js';
import { DEFAULT_TOKEN_DAYS, mintApiToken, TOKEN_FORMAT, tokenDaysProblem, tokenHash, tokenNameProblem, tokenStatus } from '../admin/api-tokens-secret.js';
import { CliError, print, printJson, printTable, withStore, type HomeOption } from './context.js';
import { cliActor } from './cli-actor.js';

const ACTOR = cliActor();

function tokenJson(t: ApiToken, now: Date) {
  const { secretHash: _hash, ...rest } = t;
  return { ...rest, status: tokenStatus(t, now) };
}

/** A token by id (digits), by its secret (a leaked `est_…` found somewhere), or by the name of a token not revoked. */
async function findToken(store: Store, ref: string): Promise<ApiToken> {
  if (TOKEN_FORMAT.test(ref)) {
    const bySecret = await store.findApiToken(tokenHash(ref));
    if (bySecret) return bySecret;
    throw new CliError('no API token has this secret');
  }
  if (/^\d+$/.test(ref)) {
    const byId = await store.getApiToken(Number(ref));
    if (byId) return byId;
    throw new CliError(`no API token with id ${ref}`);
  }
  const byName = (await store.listApiTokens()).find((t) => t.name === ref && !t.revokedAt);
  if (!byName) throw new CliError(`no API token named ${ref} that is not revoked`);
  return byName;
}

export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('manage API tokens for the Web RA JSON API (Authorization: Bearer)');

  token
    .command('create <name>')
    .description('create an API token; the secret is printed once and only its SHA-256 is stored')
    .requiredOption('--role <role>', `what the token may do: ${ADMIN_ROLES.join(', ')} (as a Web RA account of that role)`)
    .option('--expires-in-days <n>', `days until it expires (1 to 365)`, String(DEFAULT_TOKEN_DAYS))
    .option('--json', 'print a JSON object')
    .option('--home <dir>', 'data directory')
    .action(async (name: string, opts: HomeOption & { role: string; expiresInDays: string; json?: boolean }) => {
      const badName = tokenNameProblem(name);
      if (badName) throw new CliError(`token name "${name}": ${badName}`);
      if (!(ADMIN_ROLES as readonly string[]).includes(opts.role)) throw new CliError(`--role: expected one of ${ADMIN_ROLES.join(', ')}, got "${opts.role}"`);
      const days = /^\d+$/.test(opts.expiresInDays) ? Number(opts.expiresInDays) : NaN;
      const badDays = tokenDaysProblem(days);
      if (badDays) throw new CliError(`--expires-in-days: ${badDays}, got "${opts.expiresInDays}"`);
      await withStore(opts, async (store) => {
        const now = new Date();
        const { secret, record } = mintApiToken({ name, role: opts.role as AdminRole, expiresInDays: days, createdBy: ACTOR, now });
        const created = await store.createApiToken(record).catch((err: unknown) => {
          throw err instanceof StoreConflictError ? new CliError(`an API token named ${name} already exists (revoke it first, or choose another name)`) : err;
        });
        await store.appendAudit({
          actor: ACTOR, action: 'token.create', profile: null, outcome: 'success', serial: null,
          detail: `${created.name} (${created.role}, id ${created.id}), expires ${created.expiresAt.toISOString()}`,
        });
        if (opts.json) printJson({ ...tokenJson(created, now), secret });
        else {
          print(`API token ${created.name} (${created.role}, id ${created.id}) created; it expires ${created.expiresAt.toISOString()}`);
          print(`secret: ${secret}`);
          print('The secret is shown only now. Send it as "Authorization: Bearer <secret>" to the Web RA API.');
        }
      });
    });

  token
    .command('list')
    .description('list API tokens, newest first (never a secret)')
    .option('--json', 'print JSON')
    .option('--home <dir>', 'data directory')
    .action(async (opts: HomeOption & { json?: boolean }) => {
      await withStore(opts, async (store) => {
        const now = new Date();
        const tokens = await store.listApiTokens();
        if (opts.json) printJson(tokens.map((t) => tokenJson(t, now)));
        else {
          printTable(['ID', 'NAME', 'ROLE', 'STATUS', 'HINT', 'CREATED BY', 'CREATED', 'EXPIRES', 'LAST USED'], tokens.map((t) => [
            String(t.id), t.name, t.role, tokenStatus(t, now), `${t.hint}…`, t.createdBy, t.createdAt.toISOString(), t.expiresAt.toISOString(), t.lastUsedAt?.toISOString() ?? '-',
          ]));
        }
      });
    });

  token
    .command('revoke <token>')
    .description('revoke an API token (by id, by the name of a token not revoked, or by its secret, e.g. one found leaked); a running server refuses it from its next use')
    .option('--home <dir>', 'data directory')
    .action(async (ref: string, opts: HomeOption) => {
      await withStore(opts, async (store) => {
        const found = await findToken(store, ref);
        if (!(await store.revokeApiToken(found.id, ACTOR, new Date()))) throw new CliError(`API token ${found.name} (id ${found.id}) is already revoked`);
        await store.appendAudit({ actor: ACTOR, action: 'token.revoke', profile: null, outcome: 'success', serial: null, detail: `${found.name} (${found.role}, id ${found.id})` });
        print(`API token ${found.name} (id ${found.id}) revoked`);
      });
    });
}
