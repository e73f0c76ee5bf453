#!/usr/bin/env node
/** The `estuary` command. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { KEY_ALGORITHMS, type KeyAlgorithm } from '../ca/ca-setup.js';
import { Pkcs11SetupError } from '../ca/signers/pkcs11-signer.js';
import { Pkcs11UriError } from '../ca/signers/pkcs11-uri.js';
import { EstClientError, EXIT_CODES } from '../client/errors.js';
import { registerAccountCommands } from './account-commands.js';
import { registerTokenCommands } from './token-commands.js';
import { registerCaCommands } from './ca-commands.js';
import { registerCertCommands } from './cert-commands.js';
import { registerClientCommands } from './client-commands.js';
import { parseWorkers } from './cluster.js';
import { registerDbCommands } from './db-commands.js';
import { registerAuditCommands } from './audit-commands.js';
import { DatabaseConfigError } from '../store/database-config.js';
import { StoreConflictError, StoreUnavailableError } from '../store/store.js';
import { CONFIG_FILE, ConfigError, loadConfig } from './config.js';
import { CliError, homeDir, print, printJson, type HomeOption } from './context.js';
import { initHome, InitRefusedError, type InitSummary } from './init.js';
import { registerProfileCommands } from './profile-commands.js';
import { registerRequestCommands } from './request-commands.js';
import { registerWebhookCommands } from './webhook-commands.js';
import { WebhookInputError } from '../notify/webhook-input.js';
import { SecretKeyError } from '../notify/webhook-secrets.js';
import { hostList, registerTlsCommands, subjectTail } from './tls-commands.js';
import { serve } from './serve.js';
import { ESTUARY_VERSION } from '../version.js';

function printSummary(s: InitSummary, home: string): void {
  print(`Estuary home created in ${home}`);
  print(`EST base URL:         ${s.estUrl}`);
  print(`Root CA SHA-256:      ${s.rootFingerprintSha256}`);
  print(`Root CA key:          ${s.rootKeyFile}${s.rootKeyFile.startsWith(home) ? '' : ' (outside the home: keep it offline)'}`);
  print(`EST account:          ${s.estAccount.email}  password: ${s.estAccount.password}`);
  print(`Admin account:        ${s.adminAccount.email}  password: ${s.adminAccount.password}`);
  print('The passwords are shown only now; change them with "estuary account passwd".');
}

async function runInit(opts: HomeOption & { json?: boolean; force?: boolean; keyAlgorithm: string; offlineRoot?: string; rootPkcs11?: string; module?: string; pinFile?: string; pinEnv?: string; dns?: string[]; ip?: string[]; caName?: string; subject?: string; databaseUrl?: string }): Promise<void> {
  if (!(KEY_ALGORITHMS as readonly string[]).includes(opts.keyAlgorithm)) {
    throw new CliError(`--key-algorithm: expected one of ${KEY_ALGORITHMS.join(', ')}, got "${opts.keyAlgorithm}"`);
  }
  const home = homeDir(opts);
  const hosts = hostList(opts.dns, opts.ip);
  const subject = subjectTail(opts.subject);
  const databaseUrl = opts.databaseUrl ?? process.env.ESTUARY_DATABASE_URL;
  if (opts.caName !== undefined && (opts.caName.trim() === '' || /[,=+\\]/.test(opts.caName))) throw new CliError('--ca-name: a plain name (no , = + or \\)');
  let rootToken: { uri: string; module: string; pin: string } | undefined;
  if (opts.rootPkcs11) {
    if (opts.offlineRoot) throw new CliError('give one of --offline-root and --root-pkcs11');
    if (!opts.module) throw new CliError('--root-pkcs11 needs --module (the token\'s PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so)');
    if ((opts.pinFile === undefined) === (opts.pinEnv === undefined)) throw new CliError('--root-pkcs11 needs exactly one of --pin-file and --pin-env');
    let pin: string;
    try {
      pin = opts.pinEnv !== undefined ? process.env[opts.pinEnv] ?? '' : readFileSync(opts.pinFile!, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new CliError(`--pin-file: cannot read ${opts.pinFile} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    if (pin === '') throw new CliError(`--pin-env: the environment variable ${opts.pinEnv} is not set`);
    rootToken = { uri: opts.rootPkcs11, module: opts.module, pin };
  }
  const summary = await initHome({
    home, force: Boolean(opts.force), algorithm: opts.keyAlgorithm as KeyAlgorithm, ...(opts.offlineRoot ? { offlineRoot: opts.offlineRoot } : {}), ...(rootToken ? { rootToken } : {}),
    ...(hosts.length > 0 ? { hosts } : {}), ...(opts.caName ? { caName: opts.caName } : {}), ...(subject ? { subject } : {}),
    ...(databaseUrl ? { databaseUrl } : {}),
    env: process.env,
  });
  if (opts.json) printJson(summary);
  else printSummary(summary, home);
}

export function buildProgram(): Command {
  const program = new Command('estuary')
    .description('EST (RFC 7030) enrollment server, registration authority and built-in CA')
    .version(ESTUARY_VERSION, '-V, --version', 'print the version of Estuary')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('init')
    .description('create the data directory: config, root and issuing CA, TLS certificate, default profile, accounts, database')
    .option('--home <dir>', 'data directory (default $ESTUARY_HOME or ./data)')
    .option('--key-algorithm <alg>', `CA key algorithm: ${KEY_ALGORITHMS.join(', ')}`, 'ec-p256')
    .option('--force', 'replace an existing home (destroys its keys and database)')
    .option('--offline-root <dir>', 'write the root CA key to this directory instead of the home (the server never needs it)')
    .option('--root-pkcs11 <uri>', 'generate the root CA key inside this PKCS#11 token instead (RFC 7512 URI with token= and object=)')
    .option('--module <path>', 'with --root-pkcs11: the token\'s PKCS#11 library')
    .option('--pin-file <file>', 'with --root-pkcs11: a file holding the token PIN')
    .option('--pin-env <name>', 'with --root-pkcs11: an environment variable holding the token PIN')
    .option('--dns <name>', 'a DNS name of the server for its TLS certificate (repeatable; default localhost, 127.0.0.1, ::1)', (v: string, p: string[]) => [...p, v], [])
    .option('--ip <address>', 'an IP address of the server for its TLS certificate (repeatable)', (v: string, p: string[]) => [...p, v], [])
    .option('--ca-name <name>', 'the CAs are "<name> Root CA" and "<name> Issuing CA" (default Estuary)')
    .option('--subject <rdns>', 'the subjects after the CN, e.g. "O=Example Corp, C=DE" (default "O=Estuary")')
    .option('--database-url <url>', 'a PostgreSQL database (postgres://user@host:port/db, default $ESTUARY_DATABASE_URL) instead of the embedded SQLite file; it must not hold Estuary accounts yet')
    .option('--json', 'print one JSON object {estUrl, rootFingerprintSha256, estAccount, adminAccount}')
    .action(runInit);

  program
    .command('serve')
    .description('run the EST service (SIGTERM drains in-flight requests and exits 0)')
    .option('--home <dir>', 'data directory (default $ESTUARY_HOME or ./data)')
    .option('--workers <n>', 'server processes sharing the listeners: a number, or auto (one per core); default 1')
    .action(async (opts: HomeOption & { workers?: string }) => {
      const workers = parseWorkers(opts.workers);
      await serve(loadConfig(homeDir(opts)), workers);
    });

  program
    .command('start')
    .description('init the data directory when it does not exist, then serve (what `npm start` runs)')
    .option('--home <dir>', 'data directory (default $ESTUARY_HOME or ./data)')
    .action(async (opts: HomeOption) => {
      const home = homeDir(opts);
      if (!existsSync(join(home, CONFIG_FILE))) await runInit({ ...opts, keyAlgorithm: 'ec-p256' });
      await serve(loadConfig(home));
    });

  registerAccountCommands(program);
  registerTokenCommands(program);
  registerProfileCommands(program);
  registerCaCommands(program);
  registerCertCommands(program);
  registerRequestCommands(program);
  registerClientCommands(program);
  registerTlsCommands(program);
  registerDbCommands(program);
  registerWebhookCommands(program);
  registerAuditCommands(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    if (err instanceof EstClientError) {
      process.stderr.write(`estuary client: ${err.message}\n`);
      process.exitCode = EXIT_CODES[err.kind];
      return;
    }
    if (err instanceof CliError || err instanceof ConfigError || err instanceof InitRefusedError || err instanceof Pkcs11SetupError || err instanceof Pkcs11UriError
      || err instanceof WebhookInputError || err instanceof SecretKeyError) {
      process.stderr.write(`estuary: ${err.message}\n`);
      process.exitCode = err instanceof CliError ? err.exitCode : 2;
      return;
    }
    if (err instanceof StoreConflictError || err instanceof DatabaseConfigError) {
      process.stderr.write(`estuary: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    if (err instanceof StoreUnavailableError) {
      // e.g. PostgreSQL not reachable: the message names the server and database, never the password
      process.stderr.write(`estuary: ${err.message}\n`);
      process.exitCode = 3;
      return;
    }
    throw err;
  }
}

await main(process.argv);
