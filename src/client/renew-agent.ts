/**
 * The renew agent (issue 4): keeps the certificates of a renew configuration alive. For each entry
 * it reads the certificate, and once its renewal point has passed it reenrolls (RFC 7030 §4.2.2),
 * or enrolls afresh when the certificate expired (or is missing) and the entry allows it; then it
 * replaces the files atomically and runs the entry's postRenew command. One-shot (cron, a systemd
 * timer) or a daemon that sleeps until the next renewal point and backs off after failures.
 *
 * The EST operations are injected (`Renewer`): the CLI wires EstClient, tests a local CA.
 */
import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { pemBlocks, toPem } from '../pki/base64.js';
import { certificateFields } from '../pki/certificate.js';
import { nameToString, parseGeneralNames } from '../pki/names.js';
import { writeFileAtomic } from './files.js';
import { pendingPath, removePending } from './pending.js';
import { isClientKeyType, keyTypeOf, loadPrivateKey, privateKeyPem, type ClientKeyType } from './keys.js';
import type { RenewConfig, RenewEntry } from './renew-config.js';
import { runHook, type HookResult } from './renew-hook.js';
import { backoffDelay, formatRenewAt, nextWake, renewalPoint } from './renew-schedule.js';

export type { HookResult } from './renew-hook.js';

/** The certificate being renewed, as read from the entry's files. */
export interface CurrentCertificate {
  certDer: Buffer;
  /** The leaf as PEM (the first certificate of the cert file). */
  certPem: string;
  privateKey: KeyObject;
  /** The key file's text as it is on disk (encrypted when keyPasswordFile is set). */
  keyPem: string;
  /** The passphrase of keyPasswordFile, if any. */
  passphrase: string | undefined;
  notBefore: Date;
  notAfter: Date;
}

/** What a fresh enrollment asks for: the entry's names, else those of the previous certificate. */
export interface EnrollRequest {
  /** "CN=x, O=y" ("" for an empty Name). */
  subject: string;
  /** The previous certificate's subject, byte-exact, when the subject was copied from it. */
  subjectDer: Buffer | undefined;
  sans: { dns: string[]; ip: string[]; email: string[]; uri: string[] };
  /** entry.keyType, else the type of the current key when it is one the client makes. */
  keyType: ClientKeyType | undefined;
  /** The expired certificate and its key, when they could be read. */
  previous: CurrentCertificate | undefined;
}

/** What the server issued. `privateKey` is the new key, when one was made (rekey, fresh enroll). */
export interface Issued {
  certificate: Buffer;
  /** CA certificates for the chain file (from the answer or /cacerts); may be empty. */
  chain: Buffer[];
  privateKey?: KeyObject;
}

export interface RenewContext {
  signal: AbortSignal | undefined;
}

export interface Renewer {
  /** /simplereenroll with the current certificate; with entry.rekey, a new key (returned in Issued). */
  renew(entry: RenewEntry, current: CurrentCertificate, ctx: RenewContext): Promise<Issued>;
  /** /simpleenroll for an expired or missing certificate (entry.enrollIfExpired), with auth.user or auth.clientCert. */
  enroll(entry: RenewEntry, request: EnrollRequest, ctx: RenewContext): Promise<Issued>;
}

/** pino-compatible: `log.info({ entry, event }, 'message')`. */
export interface RenewLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug?(obj: object, msg?: string): void;
}

export type EntryOutcome =
  | { name: string; status: 'skipped-not-due'; notAfter: Date; renewAt: Date }
  | {
      name: string;
      status: 'renewed' | 'enrolled';
      serial: string;
      notAfter: Date;
      /** The renewal point of the new certificate. */
      renewAt: Date;
      rekeyed: boolean;
      files: string[];
      /** The postRenew command's result; its failure is the entry's failure, the new files stay. */
      postRenew?: HookResult;
    }
  | {
      name: string;
      status: 'failed';
      reason: string;
      /** The EstClientError kind (auth, policy, pending, tls, network, bad-response) when known. */
      kind?: string;
      /** Daemon: when the next attempt is due. */
      retryAt?: Date;
    };

export interface RenewSummary {
  entries: EntryOutcome[];
  /** Some entry failed, or its postRenew command did: one-shot mode exits non-zero. */
  failed: boolean;
}

export interface RunRenewalsOptions {
  config: RenewConfig;
  renewer: Renewer;
  log: RenewLogger;
  /** Keep running: sleep until the next renewal point or retry, until `signal` fires. */
  daemon?: boolean;
  signal?: AbortSignal;
  /** Only these entries (by name). */
  only?: readonly string[];
  /** Renew now even when not due (one-shot `--force`). */
  force?: boolean;
  now?: () => Date;
  random?: () => number;
  /** Resolves after ms, or early when the signal fires. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Daemon: re-read the files at least this often (default 3600). */
  maxSleepSeconds?: number;
}

export function entryFailed(o: EntryOutcome): boolean {
  return o.status === 'failed' || ((o.status === 'renewed' || o.status === 'enrolled') && o.postRenew !== undefined && !o.postRenew.ok);
}

class EntryError extends Error {
  constructor(message: string, readonly kind?: string) {
    super(message);
  }
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new EntryError(`cannot read the ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function passphraseOf(entry: RenewEntry): string | undefined {
  return entry.keyPasswordFile === undefined ? undefined : readText(entry.keyPasswordFile, 'key password file').replace(/\r?\n$/, '');
}

function validity(der: Buffer): { notBefore: Date; notAfter: Date } {
  const x = new X509Certificate(der);
  return { notBefore: new Date(x.validFrom), notAfter: new Date(x.validTo) };
}

/** The leaf of the cert file, or undefined when the file does not exist. */
function readLeaf(entry: RenewEntry): Buffer | undefined {
  let text: string;
  try {
    text = readFileSync(entry.cert, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new EntryError(`cannot read the certificate ${entry.cert}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let leaf: Buffer | undefined;
  try {
    [leaf] = pemBlocks(text);
    if (leaf) new X509Certificate(leaf);
  } catch (err) {
    throw new EntryError(`${entry.cert}: not a readable certificate: ${(err as Error).message}`);
  }
  if (!leaf) throw new EntryError(`${entry.cert}: no PEM certificate in it`);
  return leaf;
}

function readCurrent(entry: RenewEntry, certDer: Buffer): CurrentCertificate {
  const keyPem = readText(entry.key, 'private key');
  const passphrase = passphraseOf(entry);
  let privateKey: KeyObject;
  try {
    privateKey = loadPrivateKey(keyPem, passphrase).privateKey;
  } catch (err) {
    throw new EntryError(`${entry.key}: ${(err as Error).message}`);
  }
  if (!new X509Certificate(certDer).checkPrivateKey(privateKey)) {
    throw new EntryError(`${entry.key} is not the key of ${entry.cert} (an interrupted rekey, or the wrong file?)`);
  }
  return { certDer, certPem: toPem('CERTIFICATE', certDer), privateKey, keyPem, passphrase, ...validity(certDer) };
}

function enrollRequest(entry: RenewEntry, certDer: Buffer | undefined, previous: CurrentCertificate | undefined): EnrollRequest {
  const fields = certDer ? certificateFields(certDer) : undefined;
  const sans = { dns: [] as string[], ip: [] as string[], email: [] as string[], uri: [] as string[] };
  if (entry.sans) Object.assign(sans, entry.sans);
  else if (fields?.subjectAltName) {
    for (const n of parseGeneralNames(fields.subjectAltName)) if (n.type !== 'other') sans[n.type].push(n.value);
  }
  const currentType = previous ? keyTypeOf(previous.privateKey) : undefined;
  return {
    subject: entry.subject ?? (fields ? nameToString(fields.subject) : ''),
    subjectDer: entry.subject === undefined ? fields?.subject : undefined,
    sans,
    keyType: entry.keyType ?? (currentType && isClientKeyType(currentType) ? currentType : undefined),
    previous,
  };
}

function modeOf(file: string, fallback: number): number {
  try {
    return statSync(file).mode & 0o777;
  } catch {
    return fallback;
  }
}

/** Checks what the server issued, then replaces the files: the key first, then the certificate and the chain. */
function install(entry: RenewEntry, issued: Issued, currentKey: KeyObject | undefined, passphrase: string | undefined): string[] {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(issued.certificate);
  } catch (err) {
    throw new EntryError(`the server's certificate cannot be read: ${(err as Error).message}`, 'bad-response');
  }
  const key = issued.privateKey ?? currentKey;
  if (!key) throw new EntryError('no private key for the issued certificate', 'bad-response');
  const spki = (k: KeyObject): Buffer => createPublicKey(k).export({ type: 'spki', format: 'der' });
  if (!cert.publicKey.export({ type: 'spki', format: 'der' }).equals(spki(key))) {
    throw new EntryError('the issued certificate is not for the key of this request; the files were left alone', 'bad-response');
  }
  const files: string[] = [];
  if (issued.privateKey) {
    writeFileAtomic(entry.key, privateKeyPem(issued.privateKey, passphrase), 0o600);
    files.push(entry.key);
  }
  writeFileAtomic(entry.cert, toPem('CERTIFICATE', issued.certificate), modeOf(entry.cert, 0o644));
  files.push(entry.cert);
  if (entry.chain && issued.chain.length > 0) {
    writeFileAtomic(entry.chain, issued.chain.map((c) => toPem('CERTIFICATE', c)).join(''), modeOf(entry.chain, 0o644));
    files.push(entry.chain);
  }
  return files;
}

function errorKind(err: unknown): string | undefined {
  const kind = (err as { kind?: unknown }).kind;
  return typeof kind === 'string' ? kind : undefined;
}

/** One entry, one pass: skip, reenroll, enroll, or fail. Never throws. */
async function processEntry(entry: RenewEntry, o: RunRenewalsOptions, now: Date): Promise<EntryOutcome> {
  const { log } = o;
  try {
    const certDer = readLeaf(entry);
    let mode: 'renew' | 'enroll';
    let previous: CurrentCertificate | undefined;
    if (!certDer) {
      if (!entry.enrollIfExpired) throw new EntryError(`the certificate ${entry.cert} does not exist (set enrollIfExpired: true to enroll it)`);
      mode = 'enroll';
      log.info({ entry: entry.name, event: 'enroll', reason: 'missing', cert: entry.cert }, 'no certificate yet: enrolling');
    } else {
      const { notBefore, notAfter } = validity(certDer);
      const due = renewalPoint(notBefore, notAfter, entry.renewAt);
      if (now < due && !o.force) {
        log.info({ entry: entry.name, event: 'not-due', notAfter, renewAt: due }, 'not due for renewal');
        return { name: entry.name, status: 'skipped-not-due', notAfter, renewAt: due };
      }
      if (now >= notAfter) {
        if (!entry.enrollIfExpired) {
          throw new EntryError(`the certificate expired at ${notAfter.toISOString()}; reenroll needs a valid one (set enrollIfExpired: true, with auth.user or auth.clientCert, to enroll afresh)`);
        }
        try {
          previous = readCurrent(entry, certDer);
        } catch {
          previous = undefined; // a fresh enrollment makes a new key anyway
        }
        mode = 'enroll';
        log.info({ entry: entry.name, event: 'enroll', reason: 'expired', notAfter }, 'certificate expired: enrolling afresh');
      } else {
        previous = readCurrent(entry, certDer);
        mode = 'renew';
        log.info({ entry: entry.name, event: 'renew', notAfter, renewAt: due, rule: formatRenewAt(entry.renewAt), rekey: entry.rekey }, 'renewing');
      }
    }
    const passphrase = previous?.passphrase ?? passphraseOf(entry);
    const ctx: RenewContext = { signal: o.signal };
    const issued = mode === 'renew'
      ? await o.renewer.renew(entry, previous!, ctx)
      : await o.renewer.enroll(entry, enrollRequest(entry, certDer, previous), ctx);
    const files = install(entry, issued, previous?.privateKey, passphrase);
    // The new key is in place: the copy kept while the request was pending has done its job.
    removePending(pendingPath(entry.key));
    const v = validity(issued.certificate);
    const outcome: EntryOutcome = {
      name: entry.name,
      status: mode === 'renew' ? 'renewed' : 'enrolled',
      serial: certificateFields(issued.certificate).serialHex,
      notAfter: v.notAfter,
      renewAt: renewalPoint(v.notBefore, v.notAfter, entry.renewAt),
      rekeyed: issued.privateKey !== undefined,
      files,
    };
    log.info({ entry: entry.name, event: outcome.status, serial: outcome.serial, notAfter: outcome.notAfter, renewAt: outcome.renewAt, rekeyed: outcome.rekeyed, files }, `certificate ${outcome.status}`);
    if (entry.postRenew) {
      const hook = await runHook(entry.postRenew, {
        cwd: o.config.baseDir,
        env: { ESTUARY_ENTRY: entry.name, ESTUARY_CERT: entry.cert, ESTUARY_KEY: entry.key, ESTUARY_CHAIN: entry.chain ?? '' },
        timeoutMs: entry.postRenewTimeoutSeconds * 1000,
      });
      outcome.postRenew = hook;
      const fields = { entry: entry.name, event: 'post-renew', command: hook.command, exitCode: hook.exitCode, signal: hook.signal, timedOut: hook.timedOut, durationMs: hook.durationMs, output: hook.output };
      if (hook.ok) log.info(fields, 'postRenew command succeeded');
      else log.error(fields, 'postRenew command failed; the new certificate stays in place');
    }
    return outcome;
  } catch (err) {
    const kind = errorKind(err);
    const reason = (err as Error).message;
    log.error({ entry: entry.name, event: 'failed', reason, ...(kind ? { kind } : {}) }, 'renewal failed');
    return { name: entry.name, status: 'failed', reason, ...(kind ? { kind } : {}) };
  }
}

interface EntryState {
  failures: number;
  lastDelaySeconds: number | undefined;
  /** Set while backing off: no attempt before then. */
  retryAt: Date | undefined;
  /** When the daemon must look at the entry next. */
  nextAt: Date | undefined;
  last: EntryOutcome | undefined;
}

async function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, { signal });
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err;
  }
}

/**
 * One pass over the entries (one-shot), or passes until `signal` fires (daemon). Returns the
 * latest outcome per entry; `failed` tells whether any entry (or its postRenew) failed.
 */
export async function runRenewals(o: RunRenewalsOptions): Promise<RenewSummary> {
  const now = o.now ?? (() => new Date());
  const random = o.random ?? Math.random;
  const sleep = o.sleep ?? abortableSleep;
  const entries = o.config.entries.filter((e) => !o.only || o.only.includes(e.name));
  if (o.only) {
    const unknown = o.only.filter((n) => !o.config.entries.some((e) => e.name === n));
    if (unknown.length > 0) throw new Error(`no entry named ${unknown.join(', ')} in the configuration`);
  }
  const states = new Map<string, EntryState>(entries.map((e) => [e.name, { failures: 0, lastDelaySeconds: undefined, retryAt: undefined, nextAt: undefined, last: undefined }]));
  const summary = (): RenewSummary => {
    const list = entries.map((e) => states.get(e.name)!.last).filter((x): x is EntryOutcome => x !== undefined);
    return { entries: list, failed: list.some(entryFailed) };
  };

  for (let pass = 0; ; pass++) {
    for (const entry of entries) {
      if (o.signal?.aborted) break;
      const st = states.get(entry.name)!;
      const t = now();
      if (st.retryAt && t < st.retryAt) continue;
      const outcome = await processEntry(entry, { ...o, force: o.force && pass === 0 }, t);
      st.last = outcome;
      const after = now();
      if (outcome.status === 'failed') {
        st.failures++;
        const seconds = backoffDelay(st.failures, o.config.retry, random, st.lastDelaySeconds);
        st.lastDelaySeconds = seconds;
        st.retryAt = st.nextAt = new Date(after.getTime() + seconds * 1000);
        if (o.daemon) {
          outcome.retryAt = st.retryAt;
          o.log.warn({ entry: entry.name, event: 'backoff', attempt: st.failures, retryAt: st.retryAt, seconds: Math.round(seconds) }, 'will retry');
        }
        continue;
      }
      st.failures = 0;
      st.lastDelaySeconds = undefined;
      st.retryAt = undefined;
      st.nextAt = outcome.renewAt;
      if (outcome.status !== 'skipped-not-due' && outcome.renewAt <= after) {
        // A certificate due the moment it is issued (lifetime shorter than the rule expects, or a
        // server backdating notBefore a lot): do not renew it in a tight loop.
        st.retryAt = st.nextAt = new Date(after.getTime() + o.config.retry.initialSeconds * 1000);
        o.log.warn({ entry: entry.name, event: 'due-at-once', renewAt: outcome.renewAt, notAfter: outcome.notAfter, nextAttempt: st.nextAt }, 'the new certificate is already due for renewal; waiting retry.initialSeconds before renewing it again');
      }
    }
    if (!o.daemon || o.signal?.aborted) break;
    const wake = nextWake([...states.values()], now(), o.maxSleepSeconds ?? 3600);
    o.log.info({ event: 'sleep', until: wake }, 'sleeping until the next renewal point or retry');
    await sleep(Math.max(0, wake.getTime() - now().getTime()), o.signal);
    if (o.signal?.aborted) break;
  }
  if (o.daemon) o.log.info({ event: 'stopped' }, 'renew agent stopped');
  return summary();
}
