/**
 * The composition root: everything with a lifetime (store, CA keys, logger, listeners) is
 * created here and passed down. Tests build a server in-process through the same function.
 */
import { createPrivateKey, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import { createAdminServer, type AdminServer, type AdminServerOptions } from '../admin/admin-server.js';
import type { CaBackend } from '../ca/ca-backend.js';
import { keyFileExposure } from '../ca/ca-setup.js';
import { createLocalCa } from '../ca/local-ca.js';
import { createEstServer, type EstServer } from '../est/est-server.js';
import { pemBlocks } from '../pki/base64.js';
import { createCrlServer } from '../crl/crl-server.js';
import { createCrlService } from '../ra/crl-service.js';
import { createEnrollmentService } from '../ra/enrollment-service.js';
import { HashGate } from '../ra/hash-gate.js';
import { openSqliteStore } from '../store/sqlite-store.js';
import type { Store } from '../store/store.js';
import { gatheredStdout } from './log-destination.js';
import { adminBaseUrl, ConfigError, estBaseUrl, urlHost, type CaConfig, type Config } from './config.js';

export function createLogger(level: Config['log']['level'], destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      // Defence in depth: these never reach a log call, and would be censored if they did.
      redact: { paths: ['password', '*.password', 'req.headers.authorization', 'headers.authorization', 'key', 'privateKey'], censor: '[redacted]' },
    },
    // Asynchronous, gathered writes: a synchronous log line per issuance was measured at ~5%
    // of a core, and an asynchronous write per line at ~4% (see log-destination.ts).
    (destination ?? gatheredStdout()) as never,
  );
}

function readChain(files: readonly string[]): Buffer[] {
  return files.flatMap((f) => pemBlocks(readFileSync(f, 'utf8')));
}

export function openCa(id: string, config: CaConfig, crlPublicUrl?: string): CaBackend {
  switch (config.type) {
    case 'local': {
      const key = createPrivateKey(readFileSync(config.key));
      const chain = [...readChain([config.certificate]).slice(0, 1), ...readChain(config.chain)];
      const crlUrl = crlPublicUrl ? `${crlPublicUrl}/${id}.crl` : undefined;
      return createLocalCa({ id, key, chain, now: () => new Date(), random: randomBytes, ...(crlUrl ? { crlUrl } : {}) });
    }
  }
}

export interface Runtime {
  config: Config;
  store: Store;
  est: EstServer;
  /** The Web RA listener, unless admin.listen is off. */
  admin: AdminServer | undefined;
  logger: Logger;
  /** Listen on the configured (or given) address; resolves to the bound EST port. Starts the CRL and Web RA listeners when configured. */
  listen(address?: { host: string; port: number }): Promise<number>;
  /** http://host:port/crl when the CRL listener runs. */
  crlBaseUrl(): string | undefined;
  estUrl(): string;
  /** https://host:port/ of the Web RA when it runs. */
  adminUrl(): string | undefined;
  close(): Promise<void>;
}

/** What tests (or an embedding program) may give the Web RA instead of the defaults. */
export interface RuntimeOptions {
  admin?: Partial<Pick<AdminServerOptions, 'now' | 'throttle' | 'uiDir'>>;
}

/** dist/admin-ui beside dist/cli (running the build), or under the project root (running the sources). */
function defaultUiDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'admin-ui');
}

/** CA and TLS private key files readable by group or others: refused, or logged loudly (keyFilePermissions). */
export function checkKeyFiles(config: Config, logger: Logger): void {
  const files = [...Object.values(config.cas).map((c) => c.key), config.tls.key];
  for (const file of files) {
    const exposure = keyFileExposure(file);
    if (!exposure) continue;
    if (config.keyFilePermissions === 'refuse') throw new ConfigError(`${exposure} (or set keyFilePermissions: warn to start anyway)`);
    logger.warn({ file }, `SECURITY: ${exposure}`);
  }
}

export async function createRuntime(config: Config, logger: Logger = createLogger(config.log.level), options: RuntimeOptions = {}): Promise<Runtime> {
  checkKeyFiles(config, logger);
  const store = openSqliteStore(config.database.path, { logger });
  const cas = new Map(Object.entries(config.cas).map(([id, c]) => [id, openCa(id, c, config.crl.publicUrl)]));
  const crlServer = createCrlServer(createCrlService({ store, cas, now: () => new Date(), validityHours: config.crl.validityHours }), logger);
  let crlPort: number | undefined;
  const t = config.est.authThrottle;
  // One bound on full password hashes for EST HTTP Basic and Web RA sign-ins together.
  const gate = new HashGate();
  const service = createEnrollmentService({
    gate,
    store, cas, defaultProfile: config.est.defaultProfile, now: () => new Date(), logger,
    maxPendingPerRequester: config.est.maxPendingPerRequester,
    maxCertificateBytes: config.est.maxCertificateBytes,
    basicThrottle: { maxFailuresPerAccount: t.maxFailuresPerAccount, maxFailuresPerAddress: t.maxFailuresPerAddress, windowSeconds: t.windowMinutes * 60, lockSeconds: t.lockMinutes * 60 },
  });
  const est = await createEstServer({
    service,
    logger,
    tls: { key: readFileSync(config.tls.key), cert: readFileSync(config.tls.certificate) },
  });
  let port = config.est.listen.port;
  const admin = config.admin.listen
    ? await createAdminServer({
        store,
        cas: Object.entries(config.cas).map(([id, c]) => ({ id, type: c.type, backend: cas.get(id)! })),
        estUrl: (label) => `${estBaseUrl(config, port)}/${label}`,
        logger,
        tls: { key: readFileSync(config.tls.key), cert: readFileSync(config.tls.certificate) },
        sessionIdleMinutes: config.admin.sessionIdleMinutes,
        sessionAbsoluteHours: config.admin.sessionAbsoluteHours,
        uiDir: defaultUiDir(),
        gate,
        ...options.admin,
      })
    : undefined;
  let adminPort: number | undefined;
  return {
    config,
    store,
    est,
    admin,
    logger,
    async listen(address = config.est.listen) {
      await est.listen({ host: address.host, port: address.port });
      const crlAddress = config.crl.listen;
      if (crlAddress) {
        await new Promise<void>((resolve, reject) => {
          crlServer.once('error', reject);
          crlServer.listen(crlAddress.port, crlAddress.host, () => resolve());
        });
        const a = crlServer.address();
        crlPort = typeof a === 'object' && a ? a.port : crlAddress.port;
      }
      const bound = est.server.address();
      port = typeof bound === 'object' && bound ? bound.port : address.port;
      const adminAddress = config.admin.listen;
      if (admin && adminAddress) {
        await admin.listen({ host: adminAddress.host, port: adminAddress.port });
        const a = admin.server.address();
        adminPort = typeof a === 'object' && a ? a.port : adminAddress.port;
      }
      return port;
    },
    estUrl: () => estBaseUrl(config, port),
    adminUrl: () => (config.admin.listen && adminPort !== undefined ? adminBaseUrl(config.admin.listen, adminPort) : undefined),
    crlBaseUrl: () => (config.crl.listen && crlPort !== undefined ? `http://${urlHost(config.crl.listen.host)}:${crlPort}/crl` : undefined),
    async close() {
      if (crlServer.listening) await new Promise<void>((resolve) => crlServer.close(() => resolve()));
      await admin?.close();
      await est.close();
      await store.close();
    },
  };
}
