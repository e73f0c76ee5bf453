/**
 * A request held for approval survives the client (RFC 7030 §4.2.3). The server recognises a
 * re-sent request by its requester and public key, so a client that gives up waiting on a 202
 * must keep the key (and what the request asked for) to collect the certificate later. The state
 * is one JSON file beside the key output, `<key file>.pending.json`, mode 0600, written
 * atomically; the key in it is PKCS#8 PEM, encrypted when a passphrase is given.
 */
import { readFileSync, unlinkSync } from 'node:fs';
import type { CsrInput } from '../pki/csr-builder.js';
import { writeFileAtomic } from './files.js';
import { KeyError, loadPrivateKey, privateKeyPem, type ClientKeyPair } from './keys.js';
import type { CsrBase } from './requests.js';

export type PendingOperation = 'simpleenroll' | 'simplereenroll' | 'serverkeygen';

/** Where the request was sent and what the caller asked for, to tell a resume from a new request. */
export interface PendingOrigin {
  operation: PendingOperation;
  server: string;
  label: string | undefined;
  /**
   * What the caller asked for, compared on resume: the names given (enroll, serverkeygen), the
   * serial of the certificate being renewed (reenroll).
   */
  given?: Record<string, unknown>;
}

export interface PendingRequest {
  origin: PendingOrigin;
  createdAt: Date;
  key: ClientKeyPair;
  /** The request to re-send, without the channel binding (each connection has its own). */
  base: CsrBase | undefined;
}

interface PendingFile {
  version: 1;
  origin: PendingOrigin;
  createdAt: string;
  keyPem: string;
  request?: {
    subject: { text: string } | { derHex: string };
    sans?: CsrInput['sans'];
    hash?: CsrInput['hash'];
    extraAttributes?: { type: string; values: string[] }[];
    extraExtensions?: string[];
  };
}

/** A pending file that cannot be used: damaged, or its key does not open. */
export class PendingStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PendingStateError';
  }
}

export function pendingPath(keyFile: string): string {
  return `${keyFile}.pending.json`;
}

/** Persist the request before it is sent: the key first of all, the file mode 0600. */
export function savePending(file: string, p: { origin: PendingOrigin; key: ClientKeyPair; base?: CsrBase; now: Date }, passphrase: string | undefined): void {
  const body: PendingFile = { version: 1, origin: p.origin, createdAt: p.now.toISOString(), keyPem: privateKeyPem(p.key.privateKey, passphrase) };
  if (p.base) {
    const b = p.base;
    body.request = {
      subject: typeof b.subject === 'string' ? { text: b.subject } : { derHex: b.subject.toString('hex') },
      ...(b.sans ? { sans: b.sans } : {}),
      ...(b.hash ? { hash: b.hash } : {}),
      ...(b.extraAttributes ? { extraAttributes: b.extraAttributes.map((a) => ({ type: a.type, values: a.values.map((v) => v.toString('hex')) })) } : {}),
      ...(b.extraExtensions ? { extraExtensions: b.extraExtensions.map((e) => e.toString('hex')) } : {}),
    };
  }
  writeFileAtomic(file, JSON.stringify(body, null, 2) + '\n', 0o600);
}

/** The pending request kept in `file`, or undefined when there is none. */
export function loadPending(file: string, passphrase: string | undefined): PendingRequest | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new PendingStateError(`${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let body: PendingFile;
  try {
    body = JSON.parse(text) as PendingFile;
    if (body.version !== 1 || typeof body.keyPem !== 'string' || typeof body.origin?.operation !== 'string') throw new Error('not a pending request file');
  } catch (err) {
    throw new PendingStateError(`${file}: ${(err as Error).message}; delete it to start a new request`);
  }
  let key: ClientKeyPair;
  try {
    key = loadPrivateKey(body.keyPem, passphrase);
  } catch (err) {
    throw new PendingStateError(`${file}: ${err instanceof KeyError ? err.message : String(err)}`);
  }
  const r = body.request;
  const base: CsrBase | undefined = r
    ? {
        ...key,
        subject: 'text' in r.subject ? r.subject.text : Buffer.from(r.subject.derHex, 'hex'),
        ...(r.sans ? { sans: r.sans } : {}),
        ...(r.hash ? { hash: r.hash } : {}),
        ...(r.extraAttributes ? { extraAttributes: r.extraAttributes.map((a) => ({ type: a.type, values: a.values.map((v) => Buffer.from(v, 'hex')) })) } : {}),
        ...(r.extraExtensions ? { extraExtensions: r.extraExtensions.map((e) => Buffer.from(e, 'hex')) } : {}),
      }
    : undefined;
  return { origin: body.origin, createdAt: new Date(body.createdAt), key, base };
}

/** Why a pending request cannot be resumed by this call, or undefined when it can. */
export function originMismatch(kept: PendingOrigin, now: PendingOrigin): string | undefined {
  if (kept.operation !== now.operation) return `it is a ${kept.operation} request, not ${now.operation}`;
  if (kept.server !== now.server || (kept.label ?? '') !== (now.label ?? '')) {
    return `it was sent to ${kept.server}${kept.label ? ` (label ${kept.label})` : ''}`;
  }
  if (JSON.stringify(kept.given ?? null) !== JSON.stringify(now.given ?? null)) {
    return `it asks for something else (${JSON.stringify(kept.given ?? {})})`;
  }
  return undefined;
}

export function removePending(file: string): void {
  try {
    unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** A command line as one shell-safe string, to tell the user exactly what to run again. */
export function shellCommand(args: readonly string[]): string {
  return args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}
