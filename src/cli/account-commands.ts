/** `estuary account add|list|passwd|restrict|unlock|delete|disable|enable|self-service|mfa-reset|mfa-policy`. */
import { nameGlobProblem } from '../ra/name-globs.js';
import type { Command } from 'commander';
import { hashPassword } from '../ra/password.js';
import { EMAIL } from '../ra/patterns.js';
import { ACCOUNT_ROLES, type AccountRole } from '../ra/model.js';
import { AccountCreate } from '../admin/schemas.js';
import { inputSchemaError } from './input-schema.js';
import { CliError, print, printJson, printTable, splitList, withStore, type HomeOption } from './context.js';
import { readAccountPassword } from './secret-input.js';
import { registerAccountMfaCommands } from './mfa-commands.js';
import { planAccountRemoval } from '../ra/lifecycle.js';
import { cliActor } from './cli-actor.js';


/** --allowed-names as a list; an unknown `type:` prefix is refused before anything is saved. */
function nameGlobs(text: string): string[] {
  const list = splitList(text);
  for (const g of list) {
    const bad = nameGlobProblem(g);
    if (bad) throw new CliError(`--allowed-names: ${bad}`);
  }
  return list;
}

export function registerAccountCommands(program: Command): void {
  const account = program.command('account').description('manage EST and admin accounts (works while the server runs)');

  account
    .command('add <email>')
    .description('create an account; the password is read from --password-file or $ESTUARY_PASSWORD, or generated and printed once')
    .option('--role <role>', 'est (HTTP Basic on EST), or a Web RA role: admin (everything), officer (approve, reject, revoke) or auditor (read only)', 'est')
    .option('--password-file <file>', 'file holding the password')
    .option('--allowed-names <list>', 'names this account may request, e.g. sensor-17,sensor-17.*.example.com,email:*@example.com (* within one label; bare: CN, DNS, IP; prefixes dns:, ip:, email:, uri:, cn:)')
    .option('--allowed-profiles <list>', 'EST accounts: the profiles (labels) this account may use (default: every profile that allows it)')
    .option('--self-service', 'est accounts: the holder may sign in to the Web RA to see, download and revoke its own certificates and change its password')
    .option('--json', 'print a JSON object')
    .option('--home <dir>', 'data directory')
    .action(async (email: string, opts: HomeOption & { role: string; passwordFile?: string; allowedNames?: string; allowedProfiles?: string; selfService?: boolean; json?: boolean }) => {
      if (!EMAIL.test(email)) throw new CliError(`"${email}" is not an email address`);
      if (!(ACCOUNT_ROLES as readonly string[]).includes(opts.role)) throw new CliError(`--role: expected one of ${ACCOUNT_ROLES.join(', ')}, got "${opts.role}"`);
      if (opts.selfService && opts.role !== 'est') throw new CliError('--self-service: for est accounts (Web RA roles sign in anyway)');
      const names = opts.allowedNames !== undefined ? nameGlobs(opts.allowedNames) : undefined;
      // the bounds the Web RA API puts on a new account (src/admin/schemas.ts AccountCreate)
      const bad = inputSchemaError(AccountCreate, { email, role: opts.role, ...(names !== undefined ? { allowedNames: names } : {}) });
      if (bad) throw new CliError(`${bad.field === 'allowedNames' ? '--allowed-names' : bad.field}: ${bad.message}`);
      const { password, generated } = readAccountPassword(opts, email);
      const labels = opts.allowedProfiles !== undefined ? splitList(opts.allowedProfiles) : [];
      await withStore(opts, async (store) => {
        const known = new Set((await store.listProfiles()).filter((p) => !p.retiredAt).map((p) => p.label));
        const unknown = labels.filter((l) => !known.has(l));
        if (unknown.length) throw new CliError(`--allowed-profiles: no profile in service labelled ${unknown.map((l) => `"${l}"`).join(', ')}`);
        const created = await store.createAccount({ email, passwordHash: await hashPassword(password), role: opts.role as AccountRole });
        if (names !== undefined) await store.setAccountAllowedNames(created.email, names);
        if (labels.length) await store.setAccountAllowedProfiles(created.email, labels);
        if (opts.selfService) await store.setAccountSelfService(created.email, true);
        await store.appendAudit({ actor: cliActor(), action: 'account.add', profile: null, outcome: 'success', serial: null, detail: `${created.email} (${created.role}${opts.selfService ? ', self-service' : ''})` });
        if (opts.json) printJson({ email: created.email, role: created.role, ...(generated ? { password } : {}) });
        else {
          print(`account ${created.email} (${created.role}) created`);
          if (generated) print(`password: ${password}`);
        }
      });
    });

  account
    .command('list')
    .description('list accounts')
    .option('--json', 'print JSON')
    .option('--home <dir>', 'data directory')
    .action(async (opts: HomeOption & { json?: boolean }) => {
      await withStore(opts, async (store) => {
        const accounts = await store.listAccounts();
        const mfa = new Set(await store.listMfaEnrolled());
        if (opts.json) printJson(accounts.map(({ passwordHash: _omit, ...a }) => ({ ...a, mfa: mfa.has(a.email) })));
        else printTable(['EMAIL', 'ROLE', 'STATUS', 'MFA', 'SELF-SERVICE', 'CREATED', 'NAMES'], accounts.map((a) => [a.email, a.role, a.disabled ? 'disabled' : 'active', a.role === 'est' ? '-' : mfa.has(a.email) ? 'totp' : 'none', a.selfService ? 'yes' : '-', a.createdAt.toISOString(), a.allowedNames.join(',') || '*']));
      });
    });

  account
    .command('passwd <email>')
    .description('set a new password (from --password-file or $ESTUARY_PASSWORD, or generated and printed once)')
    .option('--password-file <file>', 'file holding the password')
    .option('--home <dir>', 'data directory')
    .action(async (email: string, opts: HomeOption & { passwordFile?: string }) => {
      const { password, generated } = readAccountPassword(opts, email);
      await withStore(opts, async (store) => {
        if (!(await store.setAccountPassword(email.toLowerCase(), await hashPassword(password)))) throw new CliError(`no account ${email}`);
        await store.deleteSessionsOf(email); // signed out of the Web RA on every instance
        await store.appendAudit({ actor: cliActor(), action: 'account.passwd', profile: null, outcome: 'success', serial: null, detail: email.toLowerCase() });
        print(`password of ${email.toLowerCase()} changed`);
        if (generated) print(`password: ${password}`);
      });
    });

  account
    .command('restrict <email>')
    .description('set the names an EST account may request (every CN and SAN must match one; "" lifts the restriction)')
    .requiredOption('--allowed-names <list>', 'comma-separated name globs; * matches within one DNS label; bare globs admit CNs, DNS names and IPs; email:, uri:, dns:, ip:, cn: prefixes for one type')
    .option('--home <dir>', 'data directory')
    .action(async (email: string, opts: HomeOption & { allowedNames: string }) => {
      await withStore(opts, async (store) => {
        const list = nameGlobs(opts.allowedNames);
        if (!(await store.setAccountAllowedNames(email.toLowerCase(), list))) throw new CliError(`no account ${email}`);
        await store.appendAudit({ actor: cliActor(), action: 'account.restrict', profile: null, outcome: 'success', serial: null, detail: `${email.toLowerCase()}: ${list.join(', ') || '(any)'}` });
        print(list.length ? `account ${email.toLowerCase()} may request: ${list.join(', ')}` : `account ${email.toLowerCase()} may request any name its profiles allow`);
      });
    });

  account
    .command('self-service <email> <on|off>')
    .description('let an EST account\'s holder sign in to the Web RA for its own certificates and password (on), or no longer (off: its sessions end)')
    .option('--home <dir>', 'data directory')
    .action(async (email: string, state: string, opts: HomeOption) => {
      if (state !== 'on' && state !== 'off') throw new CliError(`expected on or off, got "${state}"`);
      await withStore(opts, async (store) => {
        const found = await store.getAccount(email);
        if (!found) throw new CliError(`no account ${email}`);
        if (found.role !== 'est') throw new CliError(`${found.email} is a ${found.role} account: self-service is for est accounts (Web RA roles sign in anyway)`);
        await store.setAccountSelfService(found.email, state === 'on');
        if (state === 'off') await store.deleteSessionsOf(found.email);
        await store.appendAudit({ actor: cliActor(), action: `account.self-service.${state}`, profile: null, outcome: 'success', serial: null, detail: found.email });
        print(`self-service ${state} for ${found.email}`);
      });
    });

  account
    .command('unlock <email>')
    .description('lift the locks that failed sign-ins (Web RA) or failed HTTP Basic attempts (EST) put on an account; a running server honours it at once')
    .option('--home <dir>', 'data directory')
    .action(async (email: string, opts: HomeOption) => {
      await withStore(opts, async (store) => {
        if (!(await store.unlockAccount(email.toLowerCase(), new Date()))) throw new CliError(`no account ${email}`);
        await store.appendAudit({ actor: cliActor(), action: 'account.unlock', profile: null, outcome: 'success', serial: null, detail: email.toLowerCase() });
        print(`account ${email.toLowerCase()} unlocked`);
      });
    });

  account
    .command('delete <email>')
    .description('delete an account; the certificates it obtained stay valid and revocable. Without --yes, says what happens and changes nothing')
    .option('--yes', 'do it')
    .option('--home <dir>', 'data directory')
    .action(async (email: string, opts: HomeOption & { yes?: boolean }) => {
      await withStore(opts, async (store) => {
        const accounts = await store.listAccounts();
        const target = accounts.find((a) => a.email === email.toLowerCase());
        if (!target) throw new CliError(`no account ${email}`);
        const plan = planAccountRemoval(target, accounts, undefined, await store.listProfiles());
        if (plan.action === 'refused') throw new CliError(plan.reason);
        if (!opts.yes) throw new CliError(`${plan.consequence}\nNothing changed: run again with --yes to delete it.`);
        if (!(await store.deleteAccount(target.email))) throw new CliError(`no account ${email}`);
        await store.resetMfa(target.email); // a new account with this email must not inherit the second factor
        await store.appendAudit({ actor: cliActor(), action: 'account.delete', profile: null, outcome: 'success', serial: null, detail: `${target.email} (${target.role})` });
        print(`account ${target.email} deleted`);
      });
    });

  registerAccountMfaCommands(account);

  for (const [name, disabled] of [['disable', true], ['enable', false]] as const) {
    account
      .command(`${name} <email>`)
      .description(`${name} an account`)
      .option('--home <dir>', 'data directory')
      .action(async (email: string, opts: HomeOption) => {
        await withStore(opts, async (store) => {
          if (!(await store.setAccountDisabled(email.toLowerCase(), disabled))) throw new CliError(`no account ${email}`);
          if (disabled) await store.deleteSessionsOf(email);
          await store.appendAudit({ actor: cliActor(), action: `account.${name}`, profile: null, outcome: 'success', serial: null, detail: email.toLowerCase() });
          print(`account ${email.toLowerCase()} ${name}d`);
        });
      });
  }
}
