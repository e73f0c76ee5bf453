/**
 * `estuary client cacerts|csrattrs|enroll|reenroll|serverkeygen|renew`: an EST client (RFC 7030,
 * RFC 8951) for any EST server. Exit codes say what went wrong (see EXIT_CODES).
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import type { Command } from 'commander';
import { generateKey, isClientKeyType, KeyError, keyTypeOf, loadPrivateKey, privateKeyPem, CLIENT_KEY_TYPES, type ClientKeyPair, type ClientKeyType } from '../client/keys.js';
import { describeCsrAttrs, type CsrTemplate } from '../client/csr-template.js';
import { chainFor, csrFactory, renewalBase, requestBase, serverTemplate, type CsrBase } from '../client/requests.js';
import { loadPending, originMismatch, pendingPath, PendingStateError, removePending, savePending, shellCommand, type PendingOrigin, type PendingRequest } from '../client/pending.js';
import { EstClient, type CsrFactory, type EnrollResult } from '../client/est-client.js';
import { EstClientError } from '../client/errors.js';
import { writeFileAtomic } from '../client/files.js';
import { openServerKey } from '../client/server-key.js';
import { toPem } from '../pki/base64.js';
import { certificateFields } from '../pki/certificate.js';
import { CsrBuildError, type CsrInput, type CsrSans } from '../pki/csr-builder.js';
import { EnvelopeError } from '../pki/enveloped-data.js';
import { octets, readTop, value } from '../pki/der.js';
import { OID } from '../pki/oids.js';
import { anonymousOptions, authenticatedClient, readPassphrase, readText, trustOf, usage, withClientOptions, type ClientFlags } from './client-options.js';
import { print, printJson, printTable } from './context.js';
import { registerRenewCommand } from './client-renew.js';

interface NameFlags {
  subject?: string;
  cn?: string;
  dns: string[];
  ip: string[];
  email: string[];
  uri: string[];
}

interface OutputFlags {
  outCert?: string;
  outKey?: string;
  outChain?: string;
}

type EnrollFlags = ClientFlags & NameFlags & OutputFlags & { keyType?: string; rekey?: boolean; pop: boolean; csrattrs: boolean; encrypt?: boolean };

const collect = (value: string, previous: string[]): string[] => [...previous, ...value.split(',').map((s) => s.trim()).filter(Boolean)];

function withNameOptions(cmd: Command): Command {
  return cmd
    .option('--subject <dn>', 'subject distinguished name, e.g. "CN=web1.example.com, O=Example"')
    .option('--cn <name>', 'subject common name (shorthand for --subject CN=<name>)')
    .option('--dns <name>', 'DNS subjectAltName (repeatable, or comma-separated)', collect, [])
    .option('--ip <addr>', 'IP address subjectAltName (repeatable)', collect, [])
    .option('--email <addr>', 'email (rfc822Name) subjectAltName (repeatable)', collect, [])
    .option('--uri <uri>', 'URI subjectAltName (repeatable)', collect, []);
}

function withOutputOptions(cmd: Command): Command {
  return cmd
    .option('--out-cert <file>', 'write the certificate here (PEM; default: standard output)')
    .option('--out-key <file>', 'write the private key here (PKCS#8 PEM, mode 0600; encrypted with --key-password-file)')
    .option('--out-chain <file>', 'write the CA chain (from /cacerts) here (PEM)');
}

function subjectOf(flags: NameFlags): string {
  if (flags.subject !== undefined && flags.cn !== undefined) throw usage('give --subject or --cn, not both');
  if (flags.cn !== undefined) return `CN=${flags.cn}`;
  return flags.subject ?? '';
}

function keyTypeFlag(text: string | undefined): ClientKeyType | undefined {
  if (text === undefined) return undefined;
  if (!isClientKeyType(text)) throw usage(`--key-type: expected one of ${CLIENT_KEY_TYPES.join(', ')}, got "${text}"`);
  return text;
}

/** The key of the request: --key FILE, else a new one of --key-type, else of the type /csrattrs asks for. */
function requestKey(flags: EnrollFlags, template: CsrTemplate): { privateKey: KeyObject; publicKey: KeyObject; generated: boolean } {
  const asked = keyTypeFlag(flags.keyType);
  if (flags.key && !flags.rekey) return { ...loadPrivateKey(readText(flags.key, '--key'), readPassphrase(flags)), generated: false };
  if (asked && template.keyType && asked !== template.keyType) {
    process.stderr.write(`estuary client: --key-type ${asked} differs from the server's csrattrs (${template.keyType}); using ${asked}\n`);
  }
  return { ...generateKey(asked ?? template.keyType ?? 'ec-p256'), generated: true };
}

const warn = (message: string): void => {
  process.stderr.write(`estuary client: ${message}\n`);
};

function pemChain(certs: readonly Buffer[]): string {
  return certs.map((c) => toPem('CERTIFICATE', c)).join('');
}

function describe(der: Buffer): { subject: string; issuer: string; serial: string; notBefore: string; notAfter: string; fingerprintSha256: string } {
  const x = new X509Certificate(der);
  return {
    subject: x.subject.replace(/\n/g, ', '),
    issuer: x.issuer.replace(/\n/g, ', '),
    serial: x.serialNumber.toLowerCase(),
    notBefore: new Date(x.validFrom).toISOString(),
    notAfter: new Date(x.validTo).toISOString(),
    fingerprintSha256: x.fingerprint256.replace(/:/g, '').toLowerCase(),
  };
}

/** Writes what an enrollment produced; the key first, so a certificate never lands without it. */
async function writeOutputs(flags: EnrollFlags, client: EstClient, result: EnrollResult, key: { privateKey: KeyObject; generated: boolean }): Promise<void> {
  const written: Record<string, string> = {};
  if (flags.outKey && key.generated) {
    writeFileAtomic(flags.outKey, privateKeyPem(key.privateKey, readPassphrase(flags)), 0o600);
    written.key = flags.outKey;
  }
  const certPem = toPem('CERTIFICATE', result.certificate);
  if (flags.outCert) {
    writeFileAtomic(flags.outCert, certPem, 0o644);
    written.certificate = flags.outCert;
  }
  if (flags.outChain) {
    writeFileAtomic(flags.outChain, pemChain(await chainFor(result, client)), 0o644);
    written.chain = flags.outChain;
  }
  if (flags.json) printJson({ ...describe(result.certificate), tlsVersion: result.tlsVersion, files: written, ...(flags.outCert ? {} : { certificatePem: certPem }) });
  else {
    const d = describe(result.certificate);
    process.stderr.write(`issued ${d.subject} serial ${d.serial}, valid until ${d.notAfter}\n`);
    for (const [what, file] of Object.entries(written)) process.stderr.write(`  ${what}: ${file}\n`);
    if (!flags.outCert) process.stdout.write(certPem);
  }
}

async function runCacerts(flags: ClientFlags & { out?: string }): Promise<void> {
  const client = new EstClient(anonymousOptions(flags, trustOf(flags)));
  try {
    const certs = await client.cacerts();
    const pem = pemChain(certs);
    if (flags.out) writeFileAtomic(flags.out, pem, 0o644);
    if (flags.json) printJson({ certificates: certs.map(describe), ...(flags.out ? { out: flags.out } : {}) });
    else if (flags.out) {
      process.stderr.write(`${certs.length} CA certificate(s) written to ${flags.out}; use --ca ${flags.out} from now on\n`);
      for (const c of certs.map(describe)) process.stderr.write(`  ${c.subject}  sha256 ${c.fingerprintSha256}\n`);
    } else process.stdout.write(pem);
  } finally {
    client.close();
  }
}

async function runCsrattrs(flags: ClientFlags): Promise<void> {
  const { client } = await authenticatedClient(flags);
  try {
    const attrs = describeCsrAttrs(await client.csrattrs());
    if (flags.json) printJson({ attributes: attrs });
    else if (attrs.length === 0) print('the server asks for no particular CSR attributes (204)');
    else printTable(['OID', 'NAME', 'VALUES'], attrs.map((a) => [a.oid, a.name, (a.values ?? []).join(', ')]));
  } finally {
    client.close();
  }
}

function namesOf(flags: NameFlags): CsrSans {
  return { dns: flags.dns, ip: flags.ip, email: flags.email, uri: flags.uri };
}

/** Checked before anything is sent: a key made here must have somewhere to go. */
function requireKeyOutput(flags: EnrollFlags, makesKey: boolean): void {
  if (makesKey && !flags.outKey) throw usage('a new private key will be made: give --out-key FILE to keep it');
}

/**
 * RFC 7030 §4.2.3: a request held for approval is collected by sending it again with the same key.
 * A key made here is kept with the request in `<out-key>.pending.json` (mode 0600, encrypted with
 * --key-password-file) before the request is sent; a later run with the same outputs resumes it.
 */
function resumable(file: string | undefined, origin: PendingOrigin, flags: EnrollFlags): PendingRequest | undefined {
  if (!file) return undefined;
  let kept: PendingRequest | undefined;
  try {
    kept = loadPending(file, readPassphrase(flags));
  } catch (err) {
    if (err instanceof PendingStateError) throw usage(err.message);
    throw err;
  }
  if (!kept) return undefined;
  const mismatch = originMismatch(kept.origin, origin);
  if (mismatch) throw usage(`${file} holds a request still pending since ${kept.createdAt.toISOString()}, but ${mismatch}: run the command that made it again, or delete ${file} to start a new request`);
  warn(`resuming the request pending since ${kept.createdAt.toISOString()} (key and request kept in ${file})`);
  return kept;
}

/**
 * Sends the request; on 202 past --max-wait says how to collect it later. The kept request is
 * dropped when it can no longer be collected: refused by the server (rejected, expired, not
 * allowed), or, when it was new, answered with anything but 202 or lost on the network (then
 * the server holds nothing, and the next run must be free to ask for something else).
 */
async function keepWhilePending<T>(file: string | undefined, resumed: boolean, send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (err) {
    if (!(err instanceof EstClientError)) throw err;
    if (err.kind === 'pending') {
      const again = `estuary ${shellCommand(process.argv.slice(2))}`;
      const kept = file ? `its key and contents are kept in ${file} (mode 0600); ` : '';
      throw new EstClientError('pending', `${err.message}\n${kept}once it is approved, run the same command again to collect the certificate:\n  ${again}`, err.status);
    }
    if (file && (err.kind === 'policy' || (!resumed && err.kind !== 'network'))) removePending(file);
    throw err;
  }
}

/** A new request, kept before it is sent when a key made here goes with it. */
function keep(file: string | undefined, origin: PendingOrigin, flags: EnrollFlags, request: { key: ClientKeyPair; base: CsrBase }): { key: ClientKeyPair; base: CsrBase } {
  if (file) savePending(file, { origin, key: request.key, base: request.base, now: new Date() }, readPassphrase(flags));
  return request;
}

function originOf(operation: PendingOrigin['operation'], flags: EnrollFlags, given: Record<string, unknown>): PendingOrigin {
  return { operation, server: flags.server, label: flags.label, given };
}

async function runEnroll(flags: EnrollFlags): Promise<void> {
  requireKeyOutput(flags, !flags.key);
  // With --key the key is the caller's own: a re-run sends it again, nothing to keep here.
  const file = flags.key ? undefined : pendingPath(flags.outKey!);
  const origin = originOf('simpleenroll', flags, { subject: subjectOf(flags), sans: namesOf(flags) });
  const kept = resumable(file, origin, flags); // a mismatch is refused before anything is sent
  const { client } = await authenticatedClient(flags);
  try {
    let generated = true;
    let request: { key: ClientKeyPair; base: CsrBase };
    if (kept?.base) request = { key: kept.key, base: kept.base };
    else {
      const template = await serverTemplate(client, flags.csrattrs, warn);
      const key = requestKey(flags, template);
      generated = key.generated;
      request = keep(file, origin, flags, { key, base: requestBase({ key, subject: subjectOf(flags), sans: namesOf(flags), template }, warn) });
    }
    const { key, base } = request;
    const result = await keepWhilePending(file, Boolean(kept?.base), () => client.enroll(csrFactory(base, flags.pop)));
    await writeOutputs(flags, client, result, { privateKey: key.privateKey, generated });
    if (file) removePending(file);
  } finally {
    client.close();
  }
}

/** RFC 7030 §4.2.2: the renewal request repeats the certificate's Subject and subjectAltName exactly. */
async function runReenroll(flags: EnrollFlags): Promise<void> {
  if (!flags.cert || !flags.key) throw usage('reenroll authenticates with the certificate being renewed: give --cert FILE and --key FILE');
  requireKeyOutput(flags, Boolean(flags.rekey));
  const certDer = Buffer.from(new X509Certificate(readText(flags.cert, '--cert')).raw);
  // With --rekey the new key is kept until the renewed certificate is collected; without, it is --key.
  const file = flags.rekey ? pendingPath(flags.outKey!) : undefined;
  const origin = originOf('simplereenroll', flags, { renewing: new X509Certificate(certDer).serialNumber.toLowerCase() });
  const current = loadPrivateKey(readText(flags.key, '--key'), readPassphrase(flags));
  const kept = resumable(file, origin, flags);
  const { client } = await authenticatedClient(flags);
  try {
    let request: { key: ClientKeyPair; base: CsrBase };
    if (kept?.base) request = { key: kept.key, base: kept.base };
    else {
      const template = await serverTemplate(client, flags.csrattrs, warn);
      const key = flags.rekey ? generateKey(keyTypeFlag(flags.keyType) ?? (keyTypeOf(current.privateKey) as ClientKeyType)) : current;
      request = keep(file, origin, flags, { key, base: renewalBase(certDer, key, template) });
    }
    const result = await keepWhilePending(file, Boolean(kept?.base), () => client.reenroll(csrFactory(request.base, flags.pop)));
    await writeOutputs(flags, client, result, { privateKey: request.key.privateKey, generated: Boolean(flags.rekey) });
    if (file) removePending(file);
  } finally {
    client.close();
  }
}

/**
 * RFC 7030 §4.4: the server makes the key. The CSR's own key only signs the request. With
 * --encrypt the key comes back as CMS EnvelopedData to the TLS client certificate (§4.4.1.2).
 */
async function runServerkeygen(flags: EnrollFlags): Promise<void> {
  requireKeyOutput(flags, true);
  const extraAttributes: NonNullable<CsrInput['extraAttributes']> = [];
  let recipient: { cert: Buffer; key: KeyObject } | undefined;
  if (flags.encrypt) {
    if (!flags.cert) throw usage('--encrypt returns the key encrypted to your TLS client certificate: give --cert and --client-key');
    const certDer = Buffer.from(new X509Certificate(readText(flags.cert, '--cert')).raw);
    const ski = certificateFields(certDer).extensions.get(OID.subjectKeyIdentifier);
    const keyId = ski ? value(ski, readTop(ski)) : Buffer.alloc(0);
    extraAttributes.push({ type: OID.asymmetricDecryptKeyIdentifier, values: [octets(keyId)] });
    const keyFile = flags.clientKey ?? flags.key;
    if (!keyFile) throw usage('--encrypt needs the TLS client key to open the returned key: --client-key FILE');
    recipient = { cert: certDer, key: loadPrivateKey(readText(keyFile, '--client-key'), readPassphrase(flags)).privateKey };
  }
  // The server makes the certificate's key only once the approved request is collected; what is
  // kept meanwhile is the key that signs the request, by which the server recognises it.
  const file = pendingPath(flags.outKey!);
  const origin = originOf('serverkeygen', flags, { subject: subjectOf(flags), sans: namesOf(flags), encrypt: Boolean(flags.encrypt) });
  const kept = resumable(file, origin, flags);
  const { client, anchors } = await authenticatedClient(flags);
  try {
    let input: CsrBase;
    if (kept?.base) input = kept.base;
    else {
      const template = await serverTemplate(client, flags.csrattrs, warn);
      const signing = generateKey(keyTypeFlag(flags.keyType) ?? template.keyType ?? 'ec-p256');
      input = keep(file, origin, flags, { key: signing, base: requestBase({ key: signing, subject: subjectOf(flags), sans: namesOf(flags), template, extraAttributes }, warn) }).base;
    }
    const result = await keepWhilePending(file, Boolean(kept?.base), () => client.serverkeygen(csrFactory(input, flags.pop)));
    for (const w of result.warnings) warn(w);
    // RFC 7030 §4.4.2: an encrypted key is opened and its signer checked against this server and the trust
    const opened = await openServerKey(result.privateKey, { ...(recipient ? { recipient } : {}), serverCertificate: result.serverCertificate, trust: anchors ? { kind: 'explicit', anchors } : trustOf(flags) });
    for (const w of opened.warnings) warn(w);
    const { privateKey } = loadPrivateKey(toPem('PRIVATE KEY', opened.pkcs8));
    await writeOutputs(flags, client, result, { privateKey, generated: true });
    removePending(file);
  } finally {
    client.close();
  }
}

/**
 * Failures of this side (a bad key file, a name that cannot be encoded, an output that cannot be
 * written) are usage errors; an envelope the server sent that does not open is a bad response.
 */
function guarded<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args) => {
    try {
      await fn(...args);
    } catch (err) {
      if (err instanceof KeyError || err instanceof CsrBuildError) throw new EstClientError('usage', err.message);
      if (err instanceof EnvelopeError) throw new EstClientError('bad-response', `serverkeygen: ${err.message}`);
      const errno = err as NodeJS.ErrnoException;
      if (typeof errno.code === 'string' && typeof errno.path === 'string') throw new EstClientError('usage', `${errno.path}: ${errno.code}`);
      throw err;
    }
  };
}

function enrollCommand(parent: Command, name: string, description: string): Command {
  const cmd = parent.command(name).description(description);
  withClientOptions(cmd);
  withOutputOptions(cmd);
  return cmd
    .option('--key-type <type>', `key to generate: ${CLIENT_KEY_TYPES.join(', ')} (default: what /csrattrs asks for, else ec-p256)`)
    .option('--no-pop', 'do not put the TLS channel binding in challengePassword (RFC 7030 §3.5)')
    .option('--no-csrattrs', 'do not ask the server for /csrattrs before building the request');
}

export function registerClientCommands(program: Command): void {
  const client = program.command('client').description('EST client for any RFC 7030 server: cacerts, csrattrs, enroll, reenroll, serverkeygen, renew');

  withClientOptions(client.command('cacerts').description('fetch the CA certificates (with --fingerprint: bootstrap trust in them)'))
    .option('--out <file>', 'write the CA certificates here (PEM), to use as --ca later')
    .action(guarded(runCacerts));

  withClientOptions(client.command('csrattrs').description('show the CSR attributes the server asks for, OIDs named')).action(guarded(runCsrattrs));

  withNameOptions(enrollCommand(client, 'enroll', 'generate a key (or use --key) and enroll (/simpleenroll)')).action(guarded(runEnroll));

  enrollCommand(client, 'reenroll', 'renew the certificate --cert with its key --key (/simplereenroll); --rekey for a new key')
    .option('--rekey', 'generate a new key for the renewed certificate')
    .action(guarded(runReenroll));

  withNameOptions(enrollCommand(client, 'serverkeygen', 'have the server generate the key (/serverkeygen)'))
    .option('--encrypt', 'ask for the key encrypted to the TLS client certificate (RFC 7030 §4.4.1.2)')
    .action(guarded(runServerkeygen));

  registerRenewCommand(client);
}
