/** `estuary ca create|import`: new built-in CAs without hand-made files (src/ca/ca-create.ts). */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CaCreateError, createCa, importCa, type NewIssuer, type NewKey } from '../ca/ca-create.js';
import { rolloverCa } from '../ca/ca-rollover.js';
import type { LocalCaConfig } from '../ca/connectors/local.js';
import { KEY_ALGORITHMS, type KeyAlgorithm } from '../ca/ca-setup.js';
import { localCaConfig } from '../ca/registry.js';
import { Pkcs11SetupError } from '../ca/signers/pkcs11-signer.js';
import { Pkcs11UriError } from '../ca/signers/pkcs11-uri.js';
import { setCaConnector } from './config-edit.js';
import { CliError, homeDir, print, printJson, withStore, type HomeOption } from './context.js';
import { cliActor } from './cli-actor.js';

interface CreateOptions extends HomeOption {
  subject: string;
  keyAlgorithm: string;
  pkcs11?: string;
  module?: string;
  pinFile?: string;
  pinEnv?: string;
  parent?: string;
  selfSigned?: boolean;
  csr?: string;
  validityYears: string;
  pathLen?: string;
  json?: boolean;
}

const SOFTHSM_HINT = 'e.g. /usr/lib/softhsm/libsofthsm2.so';

function describeCertificate(der: Buffer): { subject: string; issuer: string; notAfter: string; sha256: string } {
  const c = new X509Certificate(der);
  return { subject: c.subject.replace(/\n/g, ', '), issuer: c.issuer.replace(/\n/g, ', '), notAfter: new Date(c.validTo).toISOString(), sha256: c.fingerprint256 };
}

/** Errors of the CA tools as one line. */
async function oneLine<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof CaCreateError || err instanceof Pkcs11SetupError || err instanceof Pkcs11UriError) throw new CliError(err.message);
    throw err;
  }
}

export function registerCaLifecycleCommands(ca: Command): void {
  ca
    .command('create <id>')
    .description('make a new built-in CA: its key (in software under the home, or in a PKCS#11 token) and its certificate (self-signed, signed by a configured CA, or a CSR for an external CA)')
    .requiredOption('--subject <name>', 'subject of the CA, e.g. "CN=Devices CA, O=Example"')
    .option('--key-algorithm <alg>', `key algorithm: ${KEY_ALGORITHMS.join(', ')}`, 'ec-p256')
    .option('--pkcs11 <uri>', 'make the key in this token (RFC 7512 URI, e.g. "pkcs11:token=ca;object=devices;type=private")')
    .option('--module <path>', `PKCS#11 module of the token (${SOFTHSM_HINT})`)
    .option('--pin-file <file>', 'file holding the token PIN (relative to the home)')
    .option('--pin-env <name>', 'environment variable holding the token PIN')
    .option('--parent <id>', 'sign the certificate with this configured built-in CA')
    .option('--self-signed', 'a new root: the certificate is signed by its own key')
    .option('--csr <file>', 'write a CSR for an offline or external CA instead; then "estuary ca import <id> --certificate FILE"')
    .option('--validity-years <n>', 'validity of the certificate', '10')
    .option('--path-len <n>', 'basicConstraints pathLenConstraint (default: none for a root, 0 under a parent)')
    .option('--json', 'print JSON')
    .option('--home <dir>', 'data directory')
    .action(async (id: string, opts: CreateOptions) => {
      if (!/^[a-z0-9][a-z0-9_-]{0,63}$/i.test(id)) throw new CliError(`"${id}" is not a CA id (letters, digits, - and _)`);
      if (!(KEY_ALGORITHMS as readonly string[]).includes(opts.keyAlgorithm)) throw new CliError(`--key-algorithm: expected one of ${KEY_ALGORITHMS.join(', ')}`);
      const chosen = [opts.parent !== undefined, Boolean(opts.selfSigned), opts.csr !== undefined].filter(Boolean).length;
      if (chosen !== 1) throw new CliError('give exactly one of --parent <id>, --self-signed and --csr <file>');
      const years = Number(opts.validityYears);
      if (!Number.isInteger(years) || years < 1 || years > 50) throw new CliError('--validity-years: expected a whole number from 1 to 50');
      const pathLen = opts.pathLen === undefined ? undefined : Number(opts.pathLen);
      if (pathLen !== undefined && (!Number.isInteger(pathLen) || pathLen < 0 || pathLen > 8)) throw new CliError('--path-len: expected a whole number from 0 to 8');
      let key: NewKey = { kind: 'file' };
      if (opts.pkcs11) {
        if (!opts.module) throw new CliError(`--pkcs11 needs --module (${SOFTHSM_HINT})`);
        if ((opts.pinFile === undefined) === (opts.pinEnv === undefined)) throw new CliError('--pkcs11 needs exactly one of --pin-file and --pin-env');
        key = { kind: 'pkcs11', uri: opts.pkcs11, module: opts.module, ...(opts.pinFile ? { pinFile: opts.pinFile } : {}), ...(opts.pinEnv ? { pinEnv: opts.pinEnv } : {}) };
      }
      const home = homeDir(opts);
      await withStore(opts, async (store, config) => {
        if (config.cas[id]) throw new CliError(`cas.${id} exists already`);
        let issuer: NewIssuer;
        if (opts.parent !== undefined) {
          let parent;
          try {
            parent = localCaConfig(config.cas[opts.parent], opts.parent);
          } catch (err) {
            throw new CliError(`--parent: ${(err as Error).message}`);
          }
          issuer = { kind: 'parent', id: opts.parent, config: parent };
        } else issuer = opts.selfSigned ? { kind: 'self-signed' } : { kind: 'csr', out: opts.csr! };
        const created = await oneLine(() => createCa({ home, id, subject: opts.subject, algorithm: opts.keyAlgorithm as KeyAlgorithm, key, issuer, validityYears: years, pathLen, now: new Date(), env: process.env }));
        if (created.settings) setCaConnector(home, id, created.settings);
        const how = issuer.kind === 'csr' ? `CSR written to ${created.csrFile}` : issuer.kind === 'parent' ? `signed by ${issuer.id}` : 'self-signed';
        await store.appendAudit({ actor: cliActor(), action: 'ca.create', profile: null, outcome: 'success', serial: null, detail: `${id}: ${opts.subject}, key ${created.keyLocation}, ${how}` });
        const certificate = created.certificate ? describeCertificate(created.certificate) : undefined;
        if (opts.json) return printJson({ id, key: created.keyLocation, certificate, csr: created.csrFile });
        print(`CA "${id}" created: key ${created.keyLocation}`);
        if (certificate) {
          print(`Certificate: ${certificate.subject} (issuer ${certificate.issuer}), valid until ${certificate.notAfter}`);
          print(`SHA-256:     ${certificate.sha256}`);
          print(`Added as cas.${id} in estuary.yaml; a running server takes it up now. Point a profile at it with "estuary profile set <label> --ca ${id}".`);
        } else {
          print(`Have the CSR in ${created.csrFile} signed, then run "estuary ca import ${id} --certificate <signed.pem> [--chain <issuer.pem>...]".`);
        }
      });
    });

  ca
    .command('import <id>')
    .description('bring the certificate an external or offline CA signed for "ca create <id> --csr"')
    .requiredOption('--certificate <file>', 'the signed CA certificate (PEM)')
    .option('--chain <file...>', 'its issuers up to and including the root (PEM files, relative to the home or absolute)')
    .option('--json', 'print JSON')
    .option('--home <dir>', 'data directory')
    .action(async (id: string, opts: HomeOption & { certificate: string; chain?: string[]; json?: boolean }) => {
      const home = homeDir(opts);
      let pem: string;
      try {
        pem = readFileSync(opts.certificate, 'utf8');
      } catch (err) {
        throw new CliError(`--certificate: cannot read ${opts.certificate} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
      await withStore(opts, async (store) => {
        const imported = await oneLine(async () => importCa(home, id, pem, opts.chain ?? [], process.env));
        setCaConnector(home, id, imported.settings);
        const c = describeCertificate(imported.certificate);
        await store.appendAudit({ actor: cliActor(), action: 'ca.import', profile: null, outcome: 'success', serial: null, detail: `${id}: ${c.subject}, issued by ${c.issuer}` });
        if (opts.json) return printJson({ id, certificate: c });
        print(`CA "${id}" imported: ${c.subject} (issuer ${c.issuer}), valid until ${c.notAfter}`);
        print(`Added as cas.${id} in estuary.yaml; a running server takes it up now.`);
      });
    });

  ca
    .command('rollover <id>')
    .description('RFC 7030 §4.1.3 key rollover of a built-in CA: a new key and certificate, the link certificates OldWithNew and NewWithOld on /cacerts; the old key stays for its certificates and its CRL')
    .option('--activate-at <time>', 'the new key issues from this moment (ISO 8601, e.g. 2027-01-01T00:00:00Z); default: now')
    .option('--key-algorithm <alg>', `key algorithm of the new key (default: the current key's): ${KEY_ALGORITHMS.join(', ')}`)
    .option('--pkcs11 <uri>', 'make the new key in this token (default: where the current key is; a token key gets object=<label>-g<n>)')
    .option('--module <path>', `PKCS#11 module of the token (${SOFTHSM_HINT})`)
    .option('--pin-file <file>', 'file holding the token PIN (relative to the home)')
    .option('--pin-env <name>', 'environment variable holding the token PIN')
    .option('--validity-years <n>', 'validity of the new certificate (default: as long as the current one)')
    .option('--json', 'print JSON')
    .option('--home <dir>', 'data directory')
    .action(async (id: string, opts: HomeOption & { activateAt?: string; keyAlgorithm?: string; pkcs11?: string; module?: string; pinFile?: string; pinEnv?: string; validityYears?: string; json?: boolean }) => {
      if (opts.keyAlgorithm !== undefined && !(KEY_ALGORITHMS as readonly string[]).includes(opts.keyAlgorithm)) throw new CliError(`--key-algorithm: expected one of ${KEY_ALGORITHMS.join(', ')}`);
      const activateAt = opts.activateAt === undefined ? undefined : new Date(opts.activateAt);
      if (activateAt && Number.isNaN(activateAt.getTime())) throw new CliError('--activate-at: expected an ISO 8601 date and time, e.g. 2027-01-01T00:00:00Z');
      const years = opts.validityYears === undefined ? undefined : Number(opts.validityYears);
      if (years !== undefined && (!Number.isInteger(years) || years < 1 || years > 50)) throw new CliError('--validity-years: expected a whole number from 1 to 50');
      let key: NewKey | undefined;
      if (opts.pkcs11) {
        if (!opts.module) throw new CliError(`--pkcs11 needs --module (${SOFTHSM_HINT})`);
        if ((opts.pinFile === undefined) === (opts.pinEnv === undefined)) throw new CliError('--pkcs11 needs exactly one of --pin-file and --pin-env');
        key = { kind: 'pkcs11', uri: opts.pkcs11, module: opts.module, ...(opts.pinFile ? { pinFile: opts.pinFile } : {}), ...(opts.pinEnv ? { pinEnv: opts.pinEnv } : {}) };
      }
      const home = homeDir(opts);
      await withStore(opts, async (store, config) => {
        let own: LocalCaConfig;
        try {
          own = localCaConfig(config.cas[id], id);
        } catch (err) {
          throw new CliError((err as Error).message);
        }
        const locals = Object.fromEntries(Object.entries(config.cas).filter(([, c]) => c.type === 'local')) as Record<string, LocalCaConfig>;
        const rolled = await oneLine(() => rolloverCa({
          home, id, config: own, cas: locals, algorithm: opts.keyAlgorithm as KeyAlgorithm | undefined, key, activateAt, validityYears: years, now: new Date(), env: process.env,
        }));
        setCaConnector(home, id, rolled.settings);
        const c = describeCertificate(rolled.newCertificate);
        const when = activateAt ? `from ${activateAt.toISOString()}` : 'now';
        await store.appendAudit({ actor: cliActor(), action: 'ca.rollover', profile: null, outcome: 'success', serial: null, detail: `${id}: key ${rolled.generation} (${rolled.keyLocation}) issues ${when}; ${c.sha256}` });
        if (opts.json) return printJson({ id, generation: rolled.generation, key: rolled.keyLocation, certificate: c, oldWithNew: describeCertificate(rolled.oldWithNew), newWithOld: describeCertificate(rolled.newWithOld), activateAt: activateAt?.toISOString() ?? null });
        print(`CA "${id}" rolled over: key ${rolled.generation} at ${rolled.keyLocation} issues ${when}`);
        print(`New certificate: ${c.subject} (issuer ${c.issuer}), valid until ${c.notAfter}`);
        print(`SHA-256:         ${c.sha256}`);
        print('/cacerts now also serves the link certificates OldWithNew and NewWithOld; certificates of the old key stay valid, renewable and revocable,');
        print(`and its CRL keeps being signed by it. The new key's CRL is /crl/${id}.g${rolled.generation}.crl. A running server takes this up at once.`);
      });
    });
}
