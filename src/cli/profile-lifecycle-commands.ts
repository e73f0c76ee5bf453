/** `estuary profile clone|delete`: new profiles from existing ones, and removing one (src/ra/lifecycle.ts). */
import { cliActor } from './cli-actor.js';
import type { Command } from 'commander';
import { cloneProfile, describeUse, planProfileRemoval, profileUse, removeProfile } from '../ra/lifecycle.js';
import type { Profile } from '../ra/model.js';
import { newLabelError } from '../ra/profile-validation.js';
import type { Config } from './config.js';
import { CliError, print, printJson, withStore, type HomeOption } from './context.js';

type Show = (config: Config, p: Profile, json: boolean | undefined) => void;

export function registerProfileLifecycleCommands(profile: Command, show: Show): void {
  profile
    .command('clone <source> <label>')
    .description('create a profile with every setting of another (a retired one too); it starts disabled unless --enable')
    .option('--enable', 'enable EST on the clone at once')
    .option('--json', 'print JSON')
    .option('--home <dir>', 'data directory')
    .action(async (source: string, label: string, opts: HomeOption & { enable?: boolean; json?: boolean }) => {
      const labelProblem = newLabelError(label);
      if (labelProblem) throw new CliError(labelProblem);
      await withStore(opts, async (store, config) => {
        const from = await store.getProfile(source);
        if (!from) throw new CliError(`no profile "${source}"`);
        if (await store.getProfile(label)) throw new CliError(`a profile labelled ${label} already exists`);
        const created = await store.createProfile(cloneProfile(from, label, opts.enable ?? false));
        await store.appendAudit({ actor: cliActor(), action: 'profile.clone', profile: label, outcome: 'success', serial: null, detail: `from ${source}` });
        show(config, created, opts.json);
      });
    });

  profile
    .command('delete <label>')
    .description('delete a profile that never issued; retire one that did (it stops enrolling, its certificates stay valid and revocable). Without --yes, says which and changes nothing')
    .option('--yes', 'do it')
    .option('--json', 'print JSON')
    .option('--home <dir>', 'data directory')
    .action(async (label: string, opts: HomeOption & { yes?: boolean; json?: boolean }) => {
      await withStore(opts, async (store, config) => {
        const p = await store.getProfile(label);
        if (!p) throw new CliError(`no profile "${label}"`);
        const now = new Date();
        const plan = planProfileRemoval(p, await profileUse(store, label, now), config.est.defaultProfile);
        if (plan.action === 'refused') throw new CliError(plan.reason);
        if (!opts.yes) throw new CliError(`${plan.consequence}\nNothing changed: run again with --yes to ${plan.action} profile "${label}".`);
        const outcome = await removeProfile(store, label, plan.action, now);
        if (outcome === 'missing') throw new CliError(`no profile "${label}" in service any more`);
        const action = outcome === 'deleted' ? 'profile.delete' : 'profile.retire';
        const detail = describeUse(plan.use);
        await store.appendAudit({ actor: cliActor(), action, profile: label, outcome: 'success', serial: null, detail });
        if (opts.json) printJson({ label, outcome, certificates: plan.use.certificates, validCertificates: plan.use.validCertificates });
        else print(outcome === 'deleted' ? `profile ${label} deleted` : `profile ${label} retired: ${plan.use.validCertificates} valid certificates stay valid and revocable`);
      });
    });
}
