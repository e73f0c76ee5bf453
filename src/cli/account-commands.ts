/** `estuary account add|list|passwd|disable|enable`. */
import type { Command } from 'commander';
import { hashPassword } from '../ra/password.js';
import type { AccountRole } from '../store/store.js';
import { CliError, print, printJson, printTable, withStore, type HomeOption } from './context.js';
import { readPassword } from './secret-input.js';

const EMAIL = /^[^\s@]+@[^\s@]+$/;

export function registerAccountCommands(program: Command): void {
  const account = program.command('account').description('manage EST and admin accounts (works while the server runs)');

  account
    .command('add <email>')
    .description('create an account; the password is read from --password-file or $ESTUARY_PASSWORD, or generated and printed once')
    .option('--role <role>', 'est (HTTP Basic on EST) or admin (Web RA)', 'est')
    .option('--password-file <file>', 'file holding the password')
    .option('--json', 'print a JSON object')
    .option('--home <dir>', 'data directory')
    .action(async (email: string, opts: HomeOption & { role: string; passwordFile?: string; json?: boolean }) => {
      if (!EMAIL.test(email)) throw new CliError(`"${email}" is not an email address`);
      if (opts.role !== 'est' && opts.role !== 'admin') throw new CliError(`--role: expected est or admin, got "${opts.role}"`);
      const { password, generated } = readPassword(opts);
      await withStore(opts, async (store) => {
        const created = await store.createAccount({ email, passwordHash: await hashPassword(password), role: opts.role as AccountRole });
        await store.appendAudit({ actor: 'cli', action: 'account.add', profile: null, outcome: 'success', serial: null, detail: `${created.email} (${created.role})` });
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
        if (opts.json) printJson(accounts.map(({ passwordHash: _omit, ...a }) => a));
        else printTable(['EMAIL', 'ROLE', 'STATUS', 'CREATED'], accounts.map((a) => [a.email, a.role, a.disabled ? 'disabled' : 'active', a.createdAt.toISOString()]));
      });
    });

  account
    .command('passwd <email>')
    .description('set a new password (from --password-file or $ESTUARY_PASSWORD, or generated and printed once)')
    .option('--password-file <file>', 'file holding the password')
    .option('--home <dir>', 'data directory')
    .action(async (email: string, opts: HomeOption & { passwordFile?: string }) => {
      const { password, generated } = readPassword(opts);
      await withStore(opts, async (store) => {
        if (!(await store.setAccountPassword(email.toLowerCase(), await hashPassword(password)))) throw new CliError(`no account ${email}`);
        await store.appendAudit({ actor: 'cli', action: 'account.passwd', profile: null, outcome: 'success', serial: null, detail: email.toLowerCase() });
        print(`password of ${email.toLowerCase()} changed`);
        if (generated) print(`password: ${password}`);
      });
    });

  for (const [name, disabled] of [['disable', true], ['enable', false]] as const) {
    account
      .command(`${name} <email>`)
      .description(`${name} an account`)
      .option('--home <dir>', 'data directory')
      .action(async (email: string, opts: HomeOption) => {
        await withStore(opts, async (store) => {
          if (!(await store.setAccountDisabled(email.toLowerCase(), disabled))) throw new CliError(`no account ${email}`);
          await store.appendAudit({ actor: 'cli', action: `account.${name}`, profile: null, outcome: 'success', serial: null, detail: email.toLowerCase() });
          print(`account ${email.toLowerCase()} ${name}d`);
        });
      });
  }
}
