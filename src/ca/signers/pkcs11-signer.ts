/**
 * A Signer whose key stays in a PKCS#11 token (an HSM, or SoftHSM in the tests), through pkcs11js.
 * One login per token and process; a small pool of sessions on it, since a PKCS#11 session runs one
 * operation at a time; signatures run in the libuv thread pool (C_SignAsync). The data is hashed
 * here and the token signs the digest: CKM_ECDSA (P-256/P-384/P-521), CKM_RSA_PKCS over a DigestInfo
 * (PKCS#1 v1.5, RFC 8017 §9.2) or CKM_RSA_PKCS_PSS (RFC 4055), which every token offers.
 * When the token goes away the signer answers CaUnavailableError (503 + Retry-After upstairs) and logs
 * in again on a later signature, without a restart.
 */
import { constants, createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { signatureAlgorithmFor } from '../../pki/certificate.js';
import { DER_NULL, explicit, octets, oid, seq, smallInteger, unsignedInteger } from '../../pki/der.js';
import { OID } from '../../pki/oids.js';
import { CaUnavailableError } from '../ca-backend.js';
import { clearOpenSslErrors } from './openssl-errors.js';
import { describePkcs11Uri, type Pkcs11Uri } from './pkcs11-uri.js';
import type { Signer } from './signer.js';

export interface Pkcs11SignerOptions {
  /** Path of the token's PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so). */
  modulePath: string;
  uri: Pkcs11Uri;
  /** The user PIN (from a file or an environment variable; never logged). */
  pin: string;
  /** SubjectPublicKeyInfo of the CA certificate: the key in the token must be its key. */
  publicKey: Buffer;
  /** RSA keys: PKCS#1 v1.5 (default) or RSASSA-PSS signatures. */
  rsaScheme?: 'pkcs1' | 'pss';
  /** Sessions opened on the token (default 2): signatures that run at once. */
  sessions?: number;
  /** The setting that named the key, for errors (e.g. `cas.default.key`). */
  setting: string;
  /** Seconds a client is told to wait while the token is unavailable (default 30). */
  retryAfterSeconds?: number;
}

export class Pkcs11SetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Pkcs11SetupError';
  }
}

export type Pkcs11 = InstanceType<typeof pkcs11js.PKCS11>;
export type Handle = Buffer;

/**
 * One initialized module per path and process (C_Initialize is process-wide per module). Its
 * generation counts re-initializations: sessions of an earlier generation are gone.
 */
interface Module {
  p11: Pkcs11;
  generation: number;
}
const modules = new Map<string, Module>();

/**
 * PKCS#11 v2.40 §5.4 (C_Initialize): with NULL arguments a module may assume it is never called from
 * two threads at once, and SoftHSM2 then disables its locks. Signatures run in the libuv thread pool
 * (C_SignAsync), several at once with more than one session: the module must lock (CKF_OS_LOCKING_OK).
 * Without it SoftHSM2 corrupted its heap under load with 4 sessions (abort in malloc).
 */
const INIT_ARGS = { flags: pkcs11js.CKF_OS_LOCKING_OK };

function loadModule(path: string, setting: string): Module {
  const loaded = modules.get(path);
  if (loaded) return loaded;
  const p11 = new pkcs11js.PKCS11();
  try {
    p11.load(path);
    p11.C_Initialize(INIT_ARGS);
  } catch (err) {
    throw new Pkcs11SetupError(`${setting}: cannot load the PKCS#11 module ${path}: ${(err as Error).message}`);
  }
  const m = { p11, generation: 0 };
  modules.set(path, m);
  return m;
}

/**
 * Some modules (SoftHSM among them) list the tokens they found at C_Initialize only: a token that
 * comes back is seen after C_Finalize + C_Initialize. Every session of the module ends with it.
 */
function reinitialize(m: Module): void {
  try {
    m.p11.C_Finalize();
  } catch {
    // not initialized any more
  }
  m.p11.C_Initialize(INIT_ARGS);
  m.generation++;
}

/** Return values that mean the token or its session is gone (re-login later), not a bad request. */
const GONE = new Set([
  pkcs11js.CKR_DEVICE_REMOVED, pkcs11js.CKR_TOKEN_NOT_PRESENT, pkcs11js.CKR_SESSION_HANDLE_INVALID, pkcs11js.CKR_SESSION_CLOSED,
  pkcs11js.CKR_DEVICE_ERROR, pkcs11js.CKR_USER_NOT_LOGGED_IN, pkcs11js.CKR_TOKEN_NOT_RECOGNIZED, pkcs11js.CKR_OBJECT_HANDLE_INVALID,
  pkcs11js.CKR_KEY_HANDLE_INVALID, pkcs11js.CKR_GENERAL_ERROR, pkcs11js.CKR_CRYPTOKI_NOT_INITIALIZED,
]);

function codeOf(err: unknown): number | undefined {
  return typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : undefined;
}

const trim = (s: string): string => s.replace(/[\s\0]+$/, '');

/** The slot holding the token the URI names. */
function findSlot(p11: Pkcs11, uri: Pkcs11Uri): Handle | undefined {
  for (const slot of p11.C_GetSlotList(true)) {
    if (uri.slotId !== undefined && slot.readUIntLE(0, Math.min(slot.length, 6)) !== uri.slotId) continue;
    let info: ReturnType<Pkcs11['C_GetTokenInfo']>;
    try {
      info = p11.C_GetTokenInfo(slot);
    } catch {
      continue; // a slot whose token went away
    }
    if (uri.token !== undefined && trim(info.label) !== uri.token) continue;
    if (uri.serial !== undefined && trim(info.serialNumber) !== uri.serial) continue;
    if (uri.manufacturer !== undefined && trim(info.manufacturerID) !== uri.manufacturer) continue;
    if (uri.model !== undefined && trim(info.model) !== uri.model) continue;
    return slot;
  }
  return undefined;
}

function findKey(p11: Pkcs11, session: Handle, uri: Pkcs11Uri): Handle[] {
  const template: { type: number; value: number | string | Buffer }[] = [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY }];
  if (uri.object !== undefined) template.push({ type: pkcs11js.CKA_LABEL, value: uri.object });
  if (uri.id !== undefined) template.push({ type: pkcs11js.CKA_ID, value: uri.id });
  p11.C_FindObjectsInit(session, template);
  try {
    return p11.C_FindObjects(session, 2);
  } finally {
    p11.C_FindObjectsFinal(session);
  }
}

/** ECDSA-Sig-Value (RFC 3279 §2.2.3) from the token's r || s. */
function ecdsaDer(raw: Buffer): Buffer {
  const half = raw.length / 2;
  return seq(unsignedInteger(raw.subarray(0, half)), unsignedInteger(raw.subarray(half)));
}

/** RFC 4055 §3.1 RSASSA-PSS-params with SHA-256, MGF1-SHA-256 and a 32-byte salt. */
const PSS_SHA256 = seq(
  oid(OID.rsassaPss),
  seq(explicit(0, seq(oid(OID.sha256), DER_NULL)), explicit(1, seq(oid('1.2.840.113549.1.1.8'), seq(oid(OID.sha256), DER_NULL))), explicit(2, smallInteger(32))),
);

interface Scheme {
  algorithmIdentifier: Buffer;
  hash: 'sha256' | 'sha384' | 'sha512';
  mechanism: () => { mechanism: number; parameter?: unknown };
  input: (digest: Buffer) => Buffer;
  output: (raw: Buffer) => Buffer;
  maxBytes: number;
}

function schemeFor(publicKey: KeyObject, rsaScheme: 'pkcs1' | 'pss'): Scheme {
  switch (publicKey.asymmetricKeyType) {
    case 'ec': {
      const { algorithmIdentifier, hash } = signatureAlgorithmFor(publicKey);
      return { algorithmIdentifier, hash: hash as Scheme['hash'], mechanism: () => ({ mechanism: pkcs11js.CKM_ECDSA }), input: (d) => d, output: ecdsaDer, maxBytes: 132 };
    }
    case 'rsa': {
      const bytes = Math.ceil((publicKey.asymmetricKeyDetails?.modulusLength ?? 4096) / 8);
      if (rsaScheme === 'pss') {
        return {
          algorithmIdentifier: PSS_SHA256, hash: 'sha256', maxBytes: bytes, input: (d) => d, output: (r) => r,
          mechanism: () => ({ mechanism: pkcs11js.CKM_RSA_PKCS_PSS, parameter: { type: pkcs11js.CK_PARAMS_RSA_PSS, hashAlg: pkcs11js.CKM_SHA256, mgf: pkcs11js.CKG_MGF1_SHA256, saltLen: 32 } }),
        };
      }
      const { algorithmIdentifier } = signatureAlgorithmFor(publicKey);
      // RFC 8017 §9.2: DigestInfo ::= SEQUENCE { digestAlgorithm, digest OCTET STRING }
      return { algorithmIdentifier, hash: 'sha256', maxBytes: bytes, input: (d) => seq(seq(oid(OID.sha256), DER_NULL), octets(d)), output: (r) => r, mechanism: () => ({ mechanism: pkcs11js.CKM_RSA_PKCS }) };
    }
    default:
      throw new Pkcs11SetupError(`a ${publicKey.asymmetricKeyType} CA key cannot be used from a PKCS#11 token here (EC P-256/P-384/P-521 or RSA)`);
  }
}

export type Pkcs11Signer = Signer & { close(): void };

/**
 * The slot of the token the URI names. A module that lists tokens only at C_Initialize (SoftHSM2)
 * is initialized again once, to see a token that came back (see reinitialize).
 */
function tokenSlot(module: Module, o: { modulePath: string; uri: Pkcs11Uri; setting: string }, what: string): Handle {
  let slot = findSlot(module.p11, o.uri);
  if (!slot) {
    reinitialize(module);
    slot = findSlot(module.p11, o.uri);
  }
  if (!slot) throw new Pkcs11SetupError(`${o.setting}: no token matches ${what} in ${o.modulePath} (tokens present: ${tokenLabels(module.p11).join(', ') || 'none'})`);
  return slot;
}

/** The user login (one per token and application: every session of it shares it); errors name the setting and the token. */
function login(p11: Pkcs11, session: Handle, o: { pin: string; setting: string }, what: string): void {
  try {
    p11.C_Login(session, pkcs11js.CKU_USER, o.pin);
  } catch (err) {
    if (codeOf(err) === pkcs11js.CKR_USER_ALREADY_LOGGED_IN) return;
    const reason = codeOf(err) === pkcs11js.CKR_PIN_INCORRECT ? 'the PIN is wrong' : codeOf(err) === pkcs11js.CKR_PIN_LOCKED ? 'the PIN is locked' : (err as Error).message;
    throw new Pkcs11SetupError(`${o.setting}: cannot log in to the token of ${what}: ${reason} (check the PIN file or variable of this CA)`);
  }
}

/** A logged-in session on the token the URI names, for one task (key generation); closed after it. */
export function withTokenSession<T>(o: { modulePath: string; uri: Pkcs11Uri; pin: string; setting: string }, task: (p11: Pkcs11, session: Handle) => T): T {
  const module = loadModule(o.modulePath, o.setting);
  const p11 = module.p11;
  const what = describePkcs11Uri(o.uri);
  const session = p11.C_OpenSession(tokenSlot(module, o, what), pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
  try {
    login(p11, session, o, what);
    return task(p11, session);
  } finally {
    closeQuietly(p11, session);
  }
}

/** Whether a private key the URI names exists in the token already. */
export function tokenHasKey(p11: Pkcs11, session: Handle, uri: Pkcs11Uri): boolean {
  return findKey(p11, session, uri).length > 0;
}

export function openPkcs11Signer(o: Pkcs11SignerOptions): Pkcs11Signer {
  const module = loadModule(o.modulePath, o.setting);
  const p11 = module.p11;
  const what = describePkcs11Uri(o.uri);
  const publicKey = createPublicKey({ key: o.publicKey, format: 'der', type: 'spki' });
  const scheme = schemeFor(publicKey, o.rsaScheme ?? 'pkcs1');
  const poolSize = Math.max(1, o.sessions ?? 2);
  const retryAfterSeconds = o.retryAfterSeconds ?? 30;

  let key: Handle | undefined;
  let free: Handle[] = [];
  let all: Handle[] = [];
  const waiting: ((s: Handle) => void)[] = [];
  let connected = false;
  let generation = module.generation;

  /** Find the token, log in, find the key: errors name the token, the object and the setting. */
  function connect(): void {
    const slot = tokenSlot(module, o, what);
    generation = module.generation;
    const sessions: Handle[] = [];
    try {
      for (let i = 0; i < poolSize; i++) sessions.push(p11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION));
      login(p11, sessions[0]!, o, what);
      const keys = findKey(p11, sessions[0]!, o.uri);
      if (keys.length === 0) throw new Pkcs11SetupError(`${o.setting}: the token has no private key ${what}`);
      if (keys.length > 1) throw new Pkcs11SetupError(`${o.setting}: more than one private key matches ${what}; add id= or object= to the URI`);
      key = keys[0]!;
    } catch (err) {
      for (const s of sessions) closeQuietly(p11, s);
      throw err;
    }
    all = sessions;
    free = [...sessions];
    connected = true;
  }

  function disconnect(): void {
    connected = false;
    // after a re-initialization the old handles may name new sessions of another signer: not closed
    if (generation === module.generation) for (const s of all) closeQuietly(p11, s);
    all = [];
    free = [];
  }

  const acquire = (): Promise<Handle> => {
    const s = free.pop();
    return s ? Promise.resolve(s) : new Promise((resolve) => waiting.push(resolve));
  };
  const release = (s: Handle): void => {
    if (!all.includes(s)) return; // from before a reconnect
    const next = waiting.shift();
    if (next) next(s);
    else free.push(s);
  };

  function rawSign(session: Handle, digest: Buffer): Promise<Buffer> {
    p11.C_SignInit(session, scheme.mechanism() as never, key!);
    return p11.C_SignAsync(session, scheme.input(digest), Buffer.alloc(scheme.maxBytes));
  }

  async function sign(data: Buffer): Promise<Buffer> {
    if (connected && generation !== module.generation) disconnect();
    if (!connected) {
      try {
        connect();
      } catch (err) {
        throw new CaUnavailableError(`the CA key's token is not available: ${(err as Error).message}`, { cause: err, retryAfterSeconds });
      }
    }
    const digest = createHash(scheme.hash).update(data).digest();
    const session = await acquire();
    try {
      return scheme.output(await rawSign(session, digest));
    } catch (err) {
      clearOpenSslErrors();
      const code = codeOf(err);
      if (code !== undefined && GONE.has(code)) {
        disconnect();
        throw new CaUnavailableError(`the CA key's token (${what}) stopped answering: ${(err as Error).message}`, { cause: err, retryAfterSeconds });
      }
      throw err;
    } finally {
      release(session);
    }
  }

  connect();
  // The token's key must be the CA certificate's: one signature, verified with the certificate's key.
  const probe = Buffer.from('estuary pkcs11 key check');
  const session = free.pop()!;
  let signature: Buffer | undefined;
  let failure: unknown;
  try {
    p11.C_SignInit(session, scheme.mechanism() as never, key!);
    signature = scheme.output(p11.C_Sign(session, scheme.input(createHash(scheme.hash).update(probe).digest()), Buffer.alloc(scheme.maxBytes)));
  } catch (err) {
    clearOpenSslErrors();
    failure = err;
  } finally {
    free.push(session);
  }
  if (!signature) {
    // e.g. a token key of another type than the certificate's (SoftHSM2: CKR_GENERAL_ERROR)
    disconnect();
    throw new Pkcs11SetupError(`${o.setting}: the private key ${what} in the token cannot sign for the CA certificate's ${publicKey.asymmetricKeyType} key (${(failure as Error).message}): it is not the key of the CA certificate`);
  }
  const pss = scheme.algorithmIdentifier === PSS_SHA256;
  const ok = cryptoVerify(scheme.hash, probe, pss ? { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : { key: publicKey, dsaEncoding: 'der' }, signature);
  if (!ok) {
    disconnect();
    throw new Pkcs11SetupError(`${o.setting}: the private key ${what} in the token is not the key of the CA certificate`);
  }

  const description = `PKCS#11 ${publicKey.asymmetricKeyType}${publicKey.asymmetricKeyDetails?.namedCurve ? ` ${publicKey.asymmetricKeyDetails.namedCurve}` : ''}${publicKey.asymmetricKeyDetails?.modulusLength ? ` ${publicKey.asymmetricKeyDetails.modulusLength}${pss ? ' PSS' : ''}` : ''} (${what})`;
  return {
    algorithmIdentifier: scheme.algorithmIdentifier,
    publicKey: o.publicKey,
    description,
    sign,
    close: disconnect,
  };
}

function closeQuietly(p11: Pkcs11, session: Handle): void {
  try {
    p11.C_CloseSession(session);
  } catch {
    // already gone with the token
  }
}

function tokenLabels(p11: Pkcs11): string[] {
  try {
    return p11.C_GetSlotList(true).map((s) => `"${trim(p11.C_GetTokenInfo(s).label)}"`);
  } catch {
    return [];
  }
}

