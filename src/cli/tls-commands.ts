/**
 * `estuary tls issue`: the EST and Web RA server certificate from a built-in CA (in software or in a
 * token), for the names the server is really reached by, so a deployment needs no openssl. The
 * running server takes it up on SIGHUP without dropping a connection (src/cli/runtime.ts reloadTls).
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Command } from 'commander';
import { issueTlsServerCertificate, KEY_ALGORITHMS, type KeyAlgorithm } from '../ca/ca-setup.js';
import { localChain, openLocalSigner } from '../ca/connectors/local.js';
import { localCaConfig } from '../ca/registry.js';
import { Pkcs11SetupError } from '../ca/signers/pkcs11-signer.js';
import { toPem } from '../pki/base64.js';
import { isSelfSigned } from '../pki/certificate.js';
import { encodeName } from '../pki/names.js';
import { CliError, print, printJson, withStore, type HomeOption } from './context.js';
import { cliActor } from './cli-actor.js';

const DNS = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** --dns and --ip values (repeatable, comma-separated), checked: a DNS name (RFC 1035 letters, digits, hyphens) or an IP address. */
export function hostList(dns: readonly string[] = [], ips: readonly string[] = []): string[] {
  const split = (l: readonly string[]): string[] => l.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  const names = split(dns);
  for (const n of names) if (!DNS.test(n) || n.length > 253) throw new CliError(`--dns: "${n}" is not a DNS name`);
  const addresses = split(ips);
  for (const a of addresses) if (isIP(a) === 0) throw new CliError(`--ip: "${a}" is not an IP address`);
  return [...names, ...addresses];
}

/** The rest of a subject after the CN, checked (e.g. "O=Example Corp, C=DE"). */
export function subjectTail(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  try {
    encodeName(`CN=x, ${text}`);
  } catch (err) {
    throw new CliError(`--subject: ${(err as Error).message}`);
  }
  return text;
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** Write next to the target and rename over it: a reader sees the old file or the new one. */
function replaceFile(path: string, content: string, mode: number): void {
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, content, { mode });
  renameSync(temp, path);
}

export function registerTlsCommands(program: Command): void {
  const tls = program.command('tls').description('the server certificate of the EST and Web RA listeners');
  tls
    .command('issue')
    .description('issue the EST/Web RA server certificate from a built-in CA for the names clients use; SIGHUP makes a running server use it')
    .option('--dns <name>', 'a DNS name of the server (repeatable, or comma-separated)', collect, [])
    .option('--ip <address>', 'an IP address of the server (repeatable, or comma-separated)', collect, [])
    .option('--ca <id>', 'the built-in CA that issues it', 'default')
    .option('--days <n>', 'validity in days (browsers accept at most 398)', '397')
    .option('--key-algorithm <alg>', `server key algorithm: ${KEY_ALGORITHMS.join(', ')}`, 'ec-p256')
    .option('--subject <rdns>', 'the subject after the CN (default "O=Estuary")')
    .option('--json', 'print JSON')
    .option('--home <dir>', 'data directory')
    .action(async (opts: HomeOption & { dns: string[]; ip: string[]; ca: string; days: string; keyAlgorithm: string; subject?: string; json?: boolean }) => {
      const hosts = hostList(opts.dns, opts.ip);
      if (hosts.length === 0) throw new CliError('give at least one --dns or --ip: the names clients reach the server by');
      if (!(KEY_ALGORITHMS as readonly string[]).includes(opts.keyAlgorithm)) throw new CliError(`--key-algorithm: expected one of ${KEY_ALGORITHMS.join(', ')}`);
      const days = Number(opts.days);
      if (!Number.isInteger(days) || days < 1 || days > 3650) throw new CliError('--days: expected a whole number from 1 to 3650');
      const organization = subjectTail(opts.subject);
      await withStore(opts, async (store, config) => {
        let ca;
        try {
          ca = localCaConfig(config.cas[opts.ca], opts.ca);
        } catch (err) {
          throw new CliError(`--ca: ${(err as Error).message}`);
        }
        const chain = localChain(ca);
        let issued;
        try {
          const signer = openLocalSigner(opts.ca, ca, chain[0]!, { env: process.env, native: undefined });
          issued = await issueTlsServerCertificate({ issuerDer: chain[0]!, signer, hosts, algorithm: opts.keyAlgorithm as KeyAlgorithm, days, now: new Date(), random: randomBytes, ...(organization ? { organization } : {}) });
        } catch (err) {
          if (err instanceof Pkcs11SetupError) throw new CliError(err.message);
          throw err;
        }
        // the certificate followed by the CA chain without the root, as TLS servers send it
        const presented = [issued.der, ...chain.filter((c) => !isSelfSigned(new X509Certificate(c)))];
        replaceFile(config.tls.key, issued.key.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
        replaceFile(config.tls.certificate, presented.map((d) => toPem('CERTIFICATE', d)).join(''), 0o644);
        const cert = new X509Certificate(issued.der);
        await store.appendAudit({ actor: cliActor(), action: 'tls.issue', profile: null, outcome: 'success', serial: null, detail: `${hosts.join(', ')} from CA ${opts.ca}, until ${new Date(cert.validTo).toISOString()}` });
        if (opts.json) return printJson({ hosts, ca: opts.ca, notAfter: new Date(cert.validTo).toISOString(), sha256: cert.fingerprint256, certificate: config.tls.certificate });
        print(`Server certificate for ${hosts.join(', ')} issued by CA "${opts.ca}", valid until ${new Date(cert.validTo).toISOString()}`);
        print(`Written to ${config.tls.certificate} (with its chain) and ${config.tls.key} (mode 0600).`);
        print('A running server uses it after SIGHUP (kill -HUP <pid>; connections stay open), or at its next start.');
      });
    });
}
