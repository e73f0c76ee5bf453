/** `estuary cert list|show|revoke|release`. */
import { X509Certificate } from 'node:crypto';
import type { Command } from 'commander';
import { certificateRecordView } from '../admin/views.js';
import { toPem } from '../pki/base64.js';
import { normalizeSerial } from '../pki/certificate.js';
import { CRL_REASONS, isCrlReason, type CrlReason } from '../pki/crl.js';
import { connectorAdmin } from '../ca/registry.js';
import { releaseHold, revokeCertificate } from '../ra/revocation.js';
import type { CertificateStatus } from '../ra/model.js';
import { CliError, print, printField, printJson, printTable, withStore, type HomeOption } from './context.js';
import { cliActor } from './cli-actor.js';

export function registerCertCommands(program: Command): void {
  const cert = program.command('cert').description('inspect issued certificates');

  cert
    .command('list')
    .description('list issued certificates, newest first')
    .option('--profile <label>', 'only this profile')
    .option('--status <status>', 'valid or revoked')
    .option('--limit <n>', 'at most this many', '100')
    .option('--json', 'print JSON')
    .option('--home <dir>', 'data directory')
    .action(async (opts: HomeOption & { profile?: string; status?: string; limit: string; json?: boolean }) => {
      if (opts.status && opts.status !== 'valid' && opts.status !== 'revoked') throw new CliError(`--status: expected valid or revoked, got "${opts.status}"`);
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new CliError(`--limit: expected a positive integer, got "${opts.limit}"`);
      await withStore(opts, async (store) => {
        const certs = await store.listCertificates({
          ...(opts.profile ? { profile: opts.profile } : {}),
          ...(opts.status ? { status: opts.status as CertificateStatus } : {}),
          limit,
        });
        if (opts.json) return printJson(certs.map(certificateRecordView));
        printTable(['SERIAL', 'PROFILE', 'STATUS', 'NOT AFTER', 'SUBJECT'], certs.map((c) => [c.serial, c.profile, c.status, c.notAfter.toISOString(), c.subject]));
      });
    });

  cert
    .command('show <serial>')
    .description('show one certificate (serial in hex, as `cert list` prints it)')
    .option('--pem', 'print only the certificate in PEM')
    .option('--json', 'print JSON')
    .option('--home <dir>', 'data directory')
    .action(async (serial: string, opts: HomeOption & { pem?: boolean; json?: boolean }) => {
      const normalized = normalizeSerial(serial);
      await withStore(opts, async (store) => {
        const c = await store.getCertificate(normalized);
        if (!c) throw new CliError(`no certificate with serial ${serial}`);
        const pem = toPem('CERTIFICATE', c.der);
        if (opts.pem) return process.stdout.write(pem);
        if (opts.json) return printJson({ ...certificateRecordView(c), pem });
        for (const [k, v] of Object.entries(certificateRecordView(c))) printField(k, v);
        print(`sha256Fingerprint: ${new X509Certificate(c.der).fingerprint256}`);
        process.stdout.write(pem);
      });
    });

  cert
    .command('revoke <serial>')
    .description('revoke a certificate: it can no longer authenticate or be renewed, and the next CRL lists it')
    .requiredOption('--reason <reason>', `RFC 5280 reason: ${Object.keys(CRL_REASONS).join(', ')} (only certificateHold can be undone, with cert release)`)
    .option('--home <dir>', 'data directory')
    .action(async (serial: string, opts: HomeOption & { reason: string }) => {
      if (!isCrlReason(opts.reason)) throw new CliError(`--reason: expected one of ${Object.keys(CRL_REASONS).join(', ')}, got "${opts.reason}"`);
      const normalized = normalizeSerial(serial);
      await withStore(opts, async (store, config) => {
        // a CA reached over EST keeps its own CRL: the revocation is recorded here only (src/ra/revocation.ts)
        const publishesCrl = (id: string): boolean => {
          const ca = config.cas[id];
          return ca === undefined || connectorAdmin(ca).publishesCrls;
        };
        const outcome = await revokeCertificate(store, { serial: normalized, reason: opts.reason as CrlReason, actor: cliActor(), now: new Date(), publishesCrl });
        if (outcome.kind === 'not-found') throw new CliError(`no certificate with serial ${serial}`);
        if (outcome.kind === 'already-revoked') throw new CliError(`certificate ${normalized} is already revoked`);
        const c = outcome.certificate;
        print(`certificate ${normalized} (${c.subject}) revoked: ${opts.reason}${outcome.notice ? `; ${outcome.notice}` : ''}`);
      });
    });

  cert
    .command('release <serial>')
    .description('release a certificate from hold (revoked with reason certificateHold): valid again, and the next CRL no longer lists it')
    .option('--home <dir>', 'data directory')
    .action(async (serial: string, opts: HomeOption) => {
      const normalized = normalizeSerial(serial);
      await withStore(opts, async (store) => {
        const outcome = await releaseHold(store, { serial: normalized, actor: cliActor(), now: new Date() });
        switch (outcome.kind) {
          case 'not-found':
            throw new CliError(`no certificate with serial ${serial}`);
          case 'not-on-hold': {
            const c = outcome.certificate;
            throw new CliError(`certificate ${normalized} is not on hold (${c.status === 'revoked' ? `revoked: ${c.revocationReason}, which cannot be undone` : 'not revoked'})`);
          }
          case 'released':
            print(`certificate ${normalized} (${outcome.certificate.subject}) released from hold: valid again, and off the CA's next CRL`);
        }
      });
    });
}
