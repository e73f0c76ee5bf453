/**
 * `estuary client renew --config FILE [--daemon]`: the auto-renewal agent, with the real
 * EstClient behind the agent's Renewer interface.
 */
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { destination, pino, stdTimeFunctions, type Logger } from 'pino';
import { EstClient, type EstClientOptions } from '../client/est-client.js';
import { EstClientError } from '../client/errors.js';
import { generateKey, keyTypeOf, type ClientKeyPair, type ClientKeyType } from '../client/keys.js';
import { loadPending, originMismatch, pendingPath, PendingStateError, removePending, savePending, type PendingOrigin } from '../client/pending.js';
import { entryFailed, runRenewals, type Issued, type Renewer } from '../client/renew-agent.js';
import { loadRenewConfig, RenewConfigError, type RenewEntry } from '../client/renew-config.js';
import { chainFor, csrFactory, EMPTY_TEMPLATE, renewalCsr } from '../client/requests.js';
import { pemBlocks } from '../pki/base64.js';
import { certificateFields } from '../pki/certificate.js';
import { printJson } from './context.js';

function readSecret(file: string): string {
  return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
}

function clientOptions(entry: RenewEntry, log: Logger): EstClientOptions {
  return {
    server: entry.server,
    label: entry.label,
    trust: entry.trust.kind === 'explicit' ? { kind: 'explicit', anchors: pemBlocks(readFileSync(entry.trust.caFile, 'utf8')) } : { kind: 'implicit' },
    maxWaitSeconds: entry.maxWaitSeconds,
    onWaiting: ({ seconds, until, attempt }) => log.info({ entry: entry.name, event: 'waiting', seconds, until, attempt }, 'request held for approval'),
    ...(entry.auth.user && entry.auth.passwordFile ? { basic: { user: entry.auth.user, password: readSecret(entry.auth.passwordFile) } } : {}),
  };
}

/**
 * RFC 7030 §4.2.3: a request held for approval is collected with the key it was made with, so a new
 * key (rekey, fresh enrollment) is kept in `<key>.pending.json` (mode 0600, encrypted like the key
 * file) from before the first attempt until the agent installs the certificate; a refusal drops it.
 */
function pendingKey(entry: RenewEntry, origin: PendingOrigin, passphrase: string | undefined, make: () => ClientKeyPair): { key: ClientKeyPair; resumed: boolean } {
  const file = pendingPath(entry.key);
  try {
    const kept = loadPending(file, passphrase);
    if (kept && !originMismatch(kept.origin, origin)) return { key: kept.key, resumed: true };
  } catch (err) {
    if (!(err instanceof PendingStateError)) throw err;
    throw new EstClientError('usage', `entry ${entry.name}: ${err.message}`);
  }
  const key = make();
  savePending(file, { origin, key, now: new Date() }, passphrase);
  return { key, resumed: false };
}

/** Drops the kept key when its request can no longer be collected (as `estuary client` does). */
async function forgetWhenGone<T>(entry: RenewEntry, kept: { resumed: boolean } | undefined, send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (err) {
    const kind = err instanceof EstClientError ? err.kind : 'network';
    if (kept && kind !== 'pending' && (kind === 'policy' || (!kept.resumed && kind !== 'network'))) removePending(pendingPath(entry.key));
    throw err;
  }
}

function passphraseOf(entry: RenewEntry): string | undefined {
  return entry.keyPasswordFile === undefined ? undefined : readSecret(entry.keyPasswordFile);
}

/** The agent's EST side: reenroll with the current certificate, or enroll afresh. */
export function estRenewer(log: Logger): Renewer {
  return {
    async renew(entry, current) {
      const opts = clientOptions(entry, log);
      // RFC 7030 §4.2.2: the renewal authenticates with the certificate being renewed.
      if (entry.auth.useCertificate) opts.clientCert = { certPem: current.certPem, keyPem: current.keyPem, ...(current.passphrase ? { passphrase: current.passphrase } : {}) };
      else if (entry.auth.clientCert && entry.auth.clientKey) opts.clientCert = { certPem: readFileSync(entry.auth.clientCert, 'utf8'), keyPem: readFileSync(entry.auth.clientKey, 'utf8') };
      const client = new EstClient(opts);
      try {
        const origin: PendingOrigin = { operation: 'simplereenroll', server: entry.server, label: entry.label, given: { renewing: certificateFields(current.certDer).serialHex } };
        const kept = entry.rekey ? pendingKey(entry, origin, current.passphrase, () => generateKey(entry.keyType ?? (keyTypeOf(current.privateKey) as ClientKeyType))) : undefined;
        const key = kept?.key ?? { privateKey: current.privateKey, publicKey: createPublicKey(current.privateKey) };
        const result = await forgetWhenGone(entry, kept, () => client.reenroll(renewalCsr(current.certDer, key, EMPTY_TEMPLATE, true)));
        const issued: Issued = { certificate: result.certificate, chain: await chainFor(result, client) };
        if (entry.rekey) issued.privateKey = key.privateKey;
        return issued;
      } finally {
        client.close();
      }
    },
    async enroll(entry, request) {
      const opts = clientOptions(entry, log);
      if (entry.auth.clientCert && entry.auth.clientKey) opts.clientCert = { certPem: readFileSync(entry.auth.clientCert, 'utf8'), keyPem: readFileSync(entry.auth.clientKey, 'utf8') };
      if (!opts.basic && !opts.clientCert) throw new EstClientError('usage', `entry ${entry.name}: a fresh enrollment needs auth.user + auth.passwordFile or auth.clientCert + auth.clientKey`);
      const client = new EstClient(opts);
      try {
        const origin: PendingOrigin = { operation: 'simpleenroll', server: entry.server, label: entry.label, given: { subject: request.subject, sans: request.sans } };
        const kept = pendingKey(entry, origin, request.previous?.passphrase ?? passphraseOf(entry), () => generateKey(request.keyType ?? 'ec-p256'));
        const key = kept.key;
        const factory = csrFactory({ ...key, subject: request.subjectDer ?? request.subject, sans: request.sans }, true);
        const result = await forgetWhenGone(entry, kept, () => client.enroll(factory));
        return { certificate: result.certificate, chain: await chainFor(result, client), privateKey: key.privateKey };
      } finally {
        client.close();
      }
    },
  };
}

interface RenewFlags {
  config: string;
  daemon?: boolean;
  entry: string[];
  force?: boolean;
  json?: boolean;
}

async function runRenew(flags: RenewFlags): Promise<void> {
  let config;
  try {
    config = loadRenewConfig(flags.config);
  } catch (err) {
    if (err instanceof RenewConfigError) throw new EstClientError('usage', err.message);
    throw err;
  }
  const unknown = flags.entry.filter((n) => !config.entries.some((e) => e.name === n));
  if (unknown.length > 0) {
    throw new EstClientError('usage', `--entry: no entry named ${unknown.join(', ')} in ${flags.config} (it has ${config.entries.map((e) => e.name).join(', ')})`);
  }
  // Structured lines on stderr, so stdout stays free for --json.
  const log = pino({ base: undefined, timestamp: stdTimeFunctions.isoTime }, destination({ dest: 2, sync: true }));
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    const summary = await runRenewals({
      config,
      renewer: estRenewer(log),
      log,
      daemon: Boolean(flags.daemon),
      signal: controller.signal,
      ...(flags.entry.length > 0 ? { only: flags.entry } : {}),
      force: Boolean(flags.force),
    });
    if (flags.json) printJson(summary);
    // One-shot: the exit code says whether anything failed (for cron and systemd timers). A daemon
    // ends only when asked to (SIGTERM, SIGINT): that is a clean stop, exit 0 even while an entry
    // is backing off (its failures were logged as they happened), or systemd would mark it failed.
    if (summary.failed) {
      if (!flags.daemon) process.exitCode = 1;
    } else if (!flags.json) process.stderr.write(`${summary.entries.filter((e) => !entryFailed(e)).length} entries checked, none failed\n`);
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}

export function registerRenewCommand(client: Command): void {
  client
    .command('renew')
    .description('keep the certificates of a config file alive: reenroll each when due, run its postRenew command')
    .requiredOption('--config <file>', 'renewal configuration (YAML; see the README)')
    .option('--daemon', 'keep running: sleep until the next renewal point, stop cleanly on SIGTERM')
    .option('--entry <name>', 'only this entry (repeatable)', (v: string, prev: string[]) => [...prev, v], [])
    .option('--force', 'renew now even when not due')
    .option('--json', 'print the summary as JSON')
    .action(runRenew);
}
