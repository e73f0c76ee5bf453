/** `estuary ca add|list|show|test`: the CA connectors under `cas:` of estuary.yaml. */
import { cliActor } from './cli-actor.js';
import { join } from 'node:path';
import type { Command } from 'commander';
import { registerCaLifecycleCommands } from './ca-lifecycle-commands.js';
import { stringify } from 'yaml';
import { connectorAdmin } from '../ca/registry.js';
import { CONFIG_FILE, loadConfig, type Config } from './config.js';
import { setCaConnector } from './config-edit.js';
import { CliError, homeDir, print, printJson, printTable, withStore, type HomeOption } from './context.js';
import { connectorSettings, type CaAddFlags } from './ca-add.js';
import { CA_TEST_EXIT, testConnector, type CaTestReport } from './ca-test.js';
import { listRow, showView } from './ca-views.js';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** The OS user running the command, as the audit log's actor (as `estuary request` records officers). */

function connector(config: Config, id: string): NonNullable<Config['cas'][string]> {
  const c = config.cas[id];
  if (!c) throw new CliError(`no CA connector "${id}" in ${join(config.home, CONFIG_FILE)} (known: ${Object.keys(config.cas).join(', ')})`);
  return c;
}

function printTestReport(r: CaTestReport): void {
  print(`CA connector ${r.id} (type ${r.type}): ${r.ok ? 'OK' : 'FAILED'}`);
  if (r.upstream) {
    print(`upstream: ${r.upstream.url ?? '-'}`);
    print(`credentials: ${r.upstream.credentials}`);
    print(`TLS handshakes: ${r.upstream.handshakes}  requests: ${r.upstream.requests}`);
    if (r.upstream.lastError) print(`last error: ${r.upstream.lastError.message} (at ${r.upstream.lastError.at})`);
  }
  print(`CA certificates${r.upstream?.chainFromCache ? ' (the copy kept on disk; not fetched now)' : ''}:${r.chain.length ? '' : ' (none)'}`);
  for (const c of r.chain) print(`  - ${c.subject}  sha256=${c.sha256}  notAfter=${c.notAfter}`);
  for (const c of r.checks) print(`[${c.ok ? 'ok' : 'FAIL'}] ${c.check}${c.detail ? `: ${c.detail}` : ''}`);
}

export function registerCaCommands(program: Command): void {
  const ca = program.command('ca').description('CA connectors (cas: in estuary.yaml): built-in CAs, upstream EST CAs');
  registerCaLifecycleCommands(ca);

  ca.command('add <id>')
    .description('add a CA connector to estuary.yaml (comments kept; validated before writing); a running server takes it up at once (it follows estuary.yaml)')
    .requiredOption('--type <type>', 'est (an upstream CA reached over EST; Estuary is its RA) or local (a built-in CA from existing files)')
    .option('--url <url>', 'est: the upstream EST server, https://host[:port] or https://host[:port]/.well-known/est/<label>')
    .option('--label <label>', 'est: EST label (profile) at the upstream')
    .option('--trust-anchor <file>', 'est: PEM file with CA certificates trusted for the upstream\'s TLS certificate (repeatable)', collect, [])
    .option('--bootstrap-fingerprint <sha256>', 'est: instead of --trust-anchor, the SHA-256 fingerprint of one of the upstream\'s CA certificates (RFC 7030 §4.1.1)')
    .option('--basic-user <email>', 'est: HTTP Basic user of the RA at the upstream')
    .option('--password-file <file>', 'est: file holding that user\'s password (one line)')
    .option('--password-env <name>', 'est: or the environment variable the server reads it from')
    .option('--ra-cert <file>', 'est: the RA certificate (id-kp-cmcRA) and its chain, PEM, for TLS client authentication upstream')
    .option('--ra-key <file>', 'est: its private key (PEM, mode 0600)')
    .option('--reenroll <mode>', 'est: enroll (renewals go upstream as simpleenroll; default) or forward (simplereenroll)')
    .option('--server-keygen <mode>', 'est: forward (the upstream generates keys; default) or local (the RA generates the key and enrolls it)')
    .option('--timeout <seconds>', 'est: upstream request timeout (default 30)')
    .option('--max-connections <n>', 'est: kept-alive TLS connections to the upstream (default 8)')
    .option('--refresh-minutes <n>', 'est: how often the upstream\'s /cacerts and /csrattrs are fetched again (default 60)')
    .option('--retry-after <seconds>', 'est: Retry-After given to clients while the upstream is unreachable (default 30)')
    .option('--certificate <file>', 'local: the issuing CA certificate (PEM)')
    .option('--key <file>', 'local: its private key (PEM, mode 0600)')
    .option('--chain <file>', 'local: further CA certificates up to the root (repeatable)', collect, [])
    .option('--force', 'replace an existing connector with this id')
    .option('--json', 'print a JSON object {id, type, file, settings, replaced, warnings}')
    .option('--home <dir>', 'data directory')
    .addHelpText('after', '\nFile paths are stored as given; relative paths are relative to the data directory.\nPasswords never go into estuary.yaml: --password-file or --password-env.')
    .action(async (id: string, opts: CaAddFlags & HomeOption & { json?: boolean }) => {
      await withStore(opts, async (store, config) => {
        const warnings: string[] = [];
        const settings = connectorSettings(id, opts, config, warnings);
        const replaced = config.cas[id] !== undefined;
        setCaConnector(config.home, id, settings);
        const type = settings.type as string;
        const target = type === 'est' ? String(settings.url) : `certificate ${String(settings.certificate)}`;
        await store.appendAudit({ actor: cliActor(), action: 'ca.add', profile: null, outcome: 'success', serial: null, detail: `${id}: type ${type}, ${target}${replaced ? ' (replaced)' : ''}` });
        const file = join(config.home, CONFIG_FILE);
        for (const w of warnings) process.stderr.write(`estuary: warning: ${w}\n`);
        if (opts.json) return printJson({ id, type, file, settings, replaced, warnings });
        print(`CA connector "${id}" (type ${type}) ${replaced ? 'replaced' : 'added'} in ${file}`);
        print('A running server takes it up at once (it follows estuary.yaml; SIGHUP asks it to read the file again).');
        print(`Check it now with: estuary ca test ${id}`);
        print(`Then issue through it from a profile: estuary profile set <label> --ca ${id}`);
      });
    });

  ca.command('list')
    .description('list CA connectors: id, type, upstream URL or CA subject, and the profiles using each')
    .option('--json', 'print JSON')
    .option('--home <dir>', 'data directory')
    .action(async (opts: HomeOption & { json?: boolean }) => {
      await withStore(opts, async (store, config) => {
        const profiles = await store.listProfiles();
        const rows = Object.entries(config.cas).map(([id, c]) => listRow(id, c, profiles));
        if (opts.json) return printJson(rows);
        printTable(['ID', 'TYPE', 'KIND', 'UPSTREAM URL / CA SUBJECT', 'PROFILES'], rows.map((r) => [
          String(r.id), String(r.type), String(r.kind), String(r.target), (r.profiles as string[]).join(',') || '-',
        ]));
      });
    });

  ca.command('show <id>')
    .description('show a CA connector: its settings (never a password), certificates with SHA-256 fingerprints and expiry, the upstream chain kept on disk')
    .option('--json', 'print JSON')
    .option('--home <dir>', 'data directory')
    .action(async (id: string, opts: HomeOption & { json?: boolean }) => {
      await withStore(opts, async (store, config) => {
        const view = showView(id, connector(config, id), config, await store.listProfiles());
        if (opts.json) printJson(view);
        else process.stdout.write(stringify(view, { lineWidth: 0 }));
      });
    });

  ca.command('test <id>')
    .description(`open the connector and check it now: an upstream EST CA's certificates, reachability and acceptance of the RA's credentials; a built-in CA's key and a test signature. Exit 0 when usable, ${CA_TEST_EXIT.unhealthy} when not (unreachable, TLS trust, bad answer, key), ${CA_TEST_EXIT.credentialsRefused} when the upstream refuses the RA's credentials`)
    .option('--json', 'print JSON')
    .option('--home <dir>', 'data directory')
    .action(async (id: string, opts: HomeOption & { json?: boolean }) => {
      const config = loadConfig(homeDir(opts));
      const c = connector(config, id);
      const report = await testConnector(id, c, config);
      if (opts.json) printJson({ ...report, kind: connectorAdmin(c).label });
      else printTestReport(report);
      if (!report.ok) throw new CliError(`ca test ${id}: ${report.reason ?? 'failed'}`, report.exitCode);
    });
}
