/** `estuary account mfa-reset`: an operator's way back in when a Web RA account lost its second factor. */
import type { Command } from 'commander';
import { CliError, print, withStore, type HomeOption } from './context.js';

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
        await store.appendAudit({ actor: 'cli', action: 'account.mfa.reset', profile: null, outcome: 'success', serial: null, detail: `${who}: second factor and recovery codes removed, sessions ended` });
        print(`second factor of ${who} reset; its Web RA sessions ended`);
      });
    });
}
