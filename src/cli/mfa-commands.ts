/**
 * `estuary account mfa-reset`: an operator's way back in when a Web RA account lost its second
 * factor; `estuary account mfa-policy`: which Web RA roles must have one.
 */
import { cliActor } from './cli-actor.js';
import type { Command } from 'commander';
import { ADMIN_ROLES, type AdminRole } from '../ra/model.js';
import { CliError, print, splitList, withStore, type HomeOption } from './context.js';

export function registerAccountMfaCommands(account: Command): void {
  account
    .command('mfa-reset <email>')
    .description('remove an account\'s second factor (TOTP secret and recovery codes) and end its Web RA sessions; it enrols again from its account page, or at its next sign-in when its role requires a second factor')
    .option('--home <dir>', 'data directory')
    .action(async (email: string, opts: HomeOption) => {
      const who = email.toLowerCase();
      await withStore(opts, async (store) => {
        if (!(await store.getAccount(who))) throw new CliError(`no account ${who}`);
        if (!(await store.resetMfa(who))) throw new CliError(`${who} has no second factor`);
        await store.deleteSessionsOf(who);
        await store.appendAudit({ actor: cliActor(), action: 'account.mfa.reset', profile: null, outcome: 'success', serial: null, detail: `${who}: second factor and recovery codes removed, sessions ended` });
        print(`second factor of ${who} reset; its Web RA sessions ended`);
      });
    });

  account
    .command('mfa-policy')
    .description('show, or with --require set, the Web RA roles whose accounts must have a second factor (without one they enrol at their next sign-in)')
    .option('--require <roles>', `comma-separated roles among ${ADMIN_ROLES.join(', ')}, or "none"`)
    .option('--home <dir>', 'data directory')
    .action(async (opts: HomeOption & { require?: string }) => {
      let roles: AdminRole[] | undefined;
      if (opts.require !== undefined) {
        const list = opts.require.trim() === 'none' ? [] : splitList(opts.require);
        const unknown = list.filter((r) => !(ADMIN_ROLES as readonly string[]).includes(r));
        if (unknown.length) throw new CliError(`--require: expected roles among ${ADMIN_ROLES.join(', ')} (or none), got ${unknown.map((r) => `"${r}"`).join(', ')}`);
        roles = list as AdminRole[];
      }
      await withStore(opts, async (store) => {
        if (roles) {
          const before = await store.getMfaRequiredRoles();
          await store.setMfaRequiredRoles(roles);
          const after = await store.getMfaRequiredRoles();
          await store.appendAudit({ actor: cliActor(), action: 'mfa.policy', profile: null, outcome: 'success', serial: null, detail: `second factor required for: ${after.join(', ') || '(no role)'} (was: ${before.join(', ') || '(no role)'})` });
        }
        const now = await store.getMfaRequiredRoles();
        print(now.length ? `a second factor is required for: ${now.join(', ')}` : 'a second factor is optional for every role');
      });
    });
}
