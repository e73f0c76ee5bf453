/**
 * The options every `estuary client` operation shares: the server, trust (RFC 7030 §3.6),
 * authentication, and how long to wait on 202. Turned into EstClientOptions here, so the
 * commands themselves only say what they do.
 */
import { readFileSync } from 'node:fs';
import type { SecureVersion } from 'node:tls';
import type { Command } from 'commander';
import { EstClient, type EstClientOptions } from '../client/est-client.js';
import { EstClientError } from '../client/errors.js';
import type { Trust } from '../client/trust.js';
import { pemBlocks } from '../pki/base64.js';
import { promptSecret } from './secret-prompt.js';

export interface ClientFlags {
  server: string;
  label?: string;
  ca?: string;
  fingerprint?: string;
  implicitTa?: boolean;
  insecure?: boolean;
  user?: string;
  passwordFile?: string;
  cert?: string;
  key?: string;
  clientKey?: string;
  keyPasswordFile?: string;
  maxWait: string;
  timeout: string;
  tlsVersion?: string;
  json?: boolean;
}

/** Adds the shared options to one `estuary client <op>` command. */
export function withClientOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--server <url>', 'EST server URL: https://est.example.com:8443, or a profile\'s EST URL …/.well-known/est/<label>')
    .option('--label <name>', 'certification profile label: /.well-known/est/<label>/...')
    .option('--ca <file>', 'explicit trust anchors (PEM bundle) for the server')
    .option('--fingerprint <sha256>', 'bootstrap: trust /cacerts only if a CA certificate in it has this SHA-256 fingerprint')
    .option('--implicit-ta', 'trust the system certificate store (implicit trust anchors)')
    .option('--insecure', 'do not validate the server at all (never in production)')
    .option('--user <email>', 'HTTP Basic user (the EST account email)')
    .option('--password-file <file>', 'file holding the HTTP Basic password (else $ESTUARY_PASSWORD, else a prompt)')
    .option('--cert <file>', 'TLS client certificate (PEM, may hold its chain); for reenroll, the certificate being renewed')
    .option('--key <file>', 'private key of the request (enroll: use it instead of generating one; reenroll: the current key)')
    .option('--client-key <file>', 'private key of --cert, when it is not --key')
    .option('--key-password-file <file>', 'passphrase for reading and writing encrypted private keys')
    .option('--max-wait <seconds>', 'how long to wait for a request held for approval (202)', '300')
    .option('--timeout <seconds>', 'per-request timeout', '30')
    .option('--tls-version <v>', 'pin the TLS version: 1.2 or 1.3')
    .option('--json', 'print one JSON object');
}

export function usage(message: string): EstClientError {
  return new EstClientError('usage', message);
}

function positiveNumber(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) throw usage(`${flag}: expected a number of seconds, got "${text}"`);
  return n;
}

export function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw usage(`${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

export function readPassphrase(flags: ClientFlags): string | undefined {
  return flags.keyPasswordFile ? readText(flags.keyPasswordFile, '--key-password-file').replace(/\r?\n$/, '') : undefined;
}

/** The HTTP Basic password: a file, $ESTUARY_PASSWORD, or a prompt; never a command-line argument. */
async function basicPassword(flags: ClientFlags): Promise<string> {
  if (flags.passwordFile) return readText(flags.passwordFile, '--password-file').replace(/\r?\n$/, '');
  if (process.env.ESTUARY_PASSWORD) return process.env.ESTUARY_PASSWORD;
  if (process.stdin.isTTY) return promptSecret(`Password for ${flags.user}: `);
  throw usage(`--user ${flags.user}: no password (give --password-file, set ESTUARY_PASSWORD, or run on a terminal to be asked)`);
}

function tlsPin(flags: ClientFlags): EstClientOptions['tls'] {
  if (flags.tlsVersion === undefined) return undefined;
  const v = ({ '1.2': 'TLSv1.2', '1.3': 'TLSv1.3' } as const)[flags.tlsVersion];
  if (!v) throw usage(`--tls-version: expected 1.2 or 1.3, got "${flags.tlsVersion}"`);
  return { minVersion: v as SecureVersion, maxVersion: v as SecureVersion };
}

function explicitAnchors(file: string): Trust {
  const anchors = pemBlocks(readText(file, '--ca'));
  if (anchors.length === 0) throw usage(`--ca ${file}: no PEM certificate in it`);
  return { kind: 'explicit', anchors };
}

/** The trust the flags ask for, before any bootstrap: refuses to talk to an unvalidated server unless told to. */
export function trustOf(flags: ClientFlags): Trust {
  const chosen = [flags.ca, flags.fingerprint, flags.implicitTa, flags.insecure].filter(Boolean).length;
  if (chosen > 1) throw usage('give only one of --ca, --fingerprint, --implicit-ta, --insecure');
  if (flags.ca) return explicitAnchors(flags.ca);
  if (flags.fingerprint) return { kind: 'bootstrap', fingerprintSha256: flags.fingerprint };
  if (flags.implicitTa) return { kind: 'implicit' };
  if (flags.insecure) {
    process.stderr.write(
      'estuary client: WARNING --insecure: the server certificate and name are NOT validated; anyone on the path can\n' +
        'impersonate the EST server, read the HTTP Basic credentials sent to it and hand out certificates of their choosing.\n',
    );
    return { kind: 'insecure' };
  }
  throw usage('refusing to talk to the server without trust anchors: give --ca FILE, --fingerprint SHA256 (bootstrap), --implicit-ta, or --insecure');
}

/** The options of an EstClient with no credentials (cacerts, bootstrap). */
export function anonymousOptions(flags: ClientFlags, trust: Trust): EstClientOptions {
  return {
    server: flags.server,
    label: flags.label,
    trust,
    maxWaitSeconds: positiveNumber('--max-wait', flags.maxWait),
    timeoutMs: positiveNumber('--timeout', flags.timeout) * 1000,
    tls: tlsPin(flags),
    onWaiting: ({ seconds, until, attempt, retryAfterMissing, message }) => {
      const why = message ? `: ${message}` : '';
      const assumed = retryAfterMissing ? ' (no Retry-After; assuming that)' : '';
      process.stderr.write(`estuary client: request held for approval${why}; waiting ${seconds} s${assumed}, until ${until.toISOString()} (attempt ${attempt})\n`);
    },
  };
}

/**
 * A client for an operation that may authenticate. With --fingerprint it first bootstraps
 * (RFC 7030 §4.1.1: /cacerts over an unauthenticated session, no credentials) and then
 * talks to the server with the verified CA certificates as explicit trust anchors.
 */
export async function authenticatedClient(flags: ClientFlags): Promise<{ client: EstClient; anchors: Buffer[] | undefined }> {
  let trust = trustOf(flags);
  let anchors: Buffer[] | undefined = trust.kind === 'explicit' ? trust.anchors : undefined;
  if (trust.kind === 'bootstrap') {
    const bootstrap = new EstClient(anonymousOptions(flags, trust));
    try {
      anchors = await bootstrap.cacerts();
    } finally {
      bootstrap.close();
    }
    trust = { kind: 'explicit', anchors };
  }
  const opts = anonymousOptions(flags, trust);
  if (flags.user) opts.basic = { user: flags.user, password: await basicPassword(flags) };
  if (flags.cert) {
    const keyFile = flags.clientKey ?? flags.key;
    if (!keyFile) throw usage('--cert needs its private key: --client-key FILE (or --key FILE)');
    opts.clientCert = { certPem: readText(flags.cert, '--cert'), keyPem: readText(keyFile, '--client-key') };
    const passphrase = readPassphrase(flags);
    if (passphrase !== undefined) opts.clientCert.passphrase = passphrase;
  }
  return { client: new EstClient(opts), anchors };
}
