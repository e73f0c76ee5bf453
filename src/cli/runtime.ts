/**
 * The composition root: everything with a lifetime (store, CA keys, logger, listeners) is
 * created here and passed down. Tests build a server in-process through the same function.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { Server as TlsServer } from 'node:tls';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino, stdTimeFunctions, type Logger } from 'pino';
import { requestLogMixin } from '../http/request-context.js';
import { createAdminServer, type AdminServer, type AdminServerOptions } from '../admin/admin-server.js';
import { closable, signsOcsp, type CaBackend } from '../ca/ca-backend.js';
import { keyFileExposure } from '../ca/ca-setup.js';
import { ConnectorConfigError } from '../ca/connectors/config-fields.js';
import { connectorKeyFiles, connectorType, openConnector } from '../ca/registry.js';
import { nativeCrypto } from '../pki/native-crypto.js';
import { createEstServer, EST_OPERATIONS, type EstServer } from '../est/est-server.js';
import { TrustedProxies } from '../est/proxy-trust.js';
import { createMetrics } from '../ops/metrics.js';
import type { OpsSource } from '../ops/ops-source.js';
import { createOpsServer, OpsListenError, type OpsServer } from '../ops/ops-server.js';
import { bindListener } from './listen-errors.js';
import { createReadiness } from '../ops/readiness.js';
import { guardConnections, tlsContextOptions, type ConnectionGuard, type ListenerLimits } from '../http/listener-limits.js';
import { pemBlocks } from '../pki/base64.js';
import { createCrlServer } from '../crl/crl-server.js';
import { createCrlService } from '../ra/crl-service.js';
import { createDeviceCrlSource } from '../ra/device-crl.js';
import { createOcspService } from '../ra/ocsp-service.js';
import { createEnrollmentService } from '../ra/enrollment-service.js';
import { HashGate } from '../ra/hash-gate.js';
import { openStore } from '../store/open-store.js';
import { createWebhookService } from '../notify/webhook-service.js';
import type { Store } from '../store/store.js';
import { caLifecycleService } from './ca-lifecycle-service.js';
import { loadAdminClientCa } from './admin-client-ca.js';
import { clientCertificateRequest } from '../admin/api-session-certificate.js';
import { watchCaConfig } from './ca-reload.js';
import { gatheredStdout, type LogDestination } from './log-destination.js';
import { adminBaseUrl, ConfigError, estBaseUrl, opsBaseUrl, urlHost, type CaConfig, type Config } from './config.js';

export function createLogger(level: Config['log']['level'], destination?: NodeJS.WritableStream | LogDestination): Logger {
  return pino(
    {
      level,
      // One time format in every log: ISO 8601 (the renewal agent's too, client-renew.ts).
      timestamp: stdTimeFunctions.isoTime,
      // The id of the request being served on every line logged for it (http/request-context.ts).
      mixin: requestLogMixin,
      // Defence in depth: these never reach a log call, and would be censored if they did.
      redact: { paths: ['password', '*.password', 'req.headers.authorization', 'headers.authorization', 'key', 'privateKey'], censor: '[redacted]' },
    },
    // Asynchronous, gathered writes: a synchronous log line per issuance was measured at ~5%
    // of a core, and an asynchronous write per line at ~4% (see log-destination.ts).
    (destination ?? gatheredStdout()) as never,
  );
}

export function openCa(id: string, config: CaConfig, crlPublicUrl?: string, ocsp?: Config['ocsp'], logger?: Logger): CaBackend {
  // The signer is chosen here: the connector gets the loaded native addon for its software keys.
  try {
    return openConnector(id, config, { now: () => new Date(), crlPublicUrl, ocsp, native: nativeCrypto, logger });
  } catch (err) {
    // a missing password file or environment variable: one line naming the setting
    if (err instanceof ConnectorConfigError) throw new ConfigError(err.message);
    throw err;
  }
}

export interface Runtime {
  config: Config;
  store: Store;
  est: EstServer;
  /** The Web RA listener, unless admin.listen is off. */
  admin: AdminServer | undefined;
  /** Readiness checks and metrics of this process (what a cluster primary asks each worker for). */
  ops: OpsSource;
  /** The operations listener (/healthz, /readyz, /metrics) of this process, unless ops.listen is off. */
  opsServer: OpsServer | undefined;
  logger: Logger;
  /**
   * Listen on the configured (or given) address; resolves to the bound EST port. Starts the CRL,
   * Web RA and operations listeners when configured (the operations listener last: /readyz answers
   * once EST requests are taken).
   */
  listen(address?: { host: string; port: number }): Promise<number>;
  /** http://host:port/crl when the CRL listener runs. */
  crlBaseUrl(): string | undefined;
  estUrl(): string;
  /** https://host:port/ of the Web RA when it runs. */
  adminUrl(): string | undefined;
  /** http://host:port of the operations listener when it runs (no trailing slash). */
  opsUrl(): string | undefined;
  /**
   * Read the server certificate and key again (after `estuary tls issue`; SIGHUP does the same):
   * new TLS connections get them, open connections keep theirs. Throws ConfigError for a key that
   * is not the certificate's, and then nothing changes.
   */
  reloadTls(): void;
  /** Read the CA connectors of estuary.yaml again now (the server also does so when the file changes, and on SIGHUP). */
  reloadCas(): Promise<string[]>;
  /** Stop listening, let in-flight requests finish for up to drainMs (default limits.drainSeconds), then close the rest. */
  close(drainMs?: number): Promise<void>;
}

/** What tests (or an embedding program) may give the Web RA instead of the defaults. */
export interface RuntimeOptions {
  admin?: Partial<Pick<AdminServerOptions, 'now' | 'throttle' | 'uiDir'>>;
  /** /readyz probes a remote CA connector again when its last probe is older than this (default 10000 ms; 0: on every call). */
  readyProbeIntervalMs?: number;
}

/** dist/admin-ui beside dist/cli (running the build), or under the project root (running the sources). */
function defaultUiDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'admin-ui');
}

/** CA and TLS private key files readable by group or others: refused, or logged loudly (keyFilePermissions). */
export function checkKeyFiles(config: Config, logger: Logger): void {
  const files = [...Object.values(config.cas).flatMap(connectorKeyFiles), config.tls.key];
  for (const file of files) {
    const exposure = keyFileExposure(file);
    if (!exposure) continue;
    if (config.keyFilePermissions === 'refuse') throw new ConfigError(`${exposure} (or set keyFilePermissions: warn to start anyway)`);
    logger.warn({ file }, `SECURITY: ${exposure}`);
  }
}

export async function createRuntime(config: Config, logger: Logger = createLogger(config.log.level), options: RuntimeOptions = {}): Promise<Runtime> {
  checkKeyFiles(config, logger);
  const store = await openStore(config.database, { logger });
  const cas = new Map(Object.entries(config.cas).map(([id, c]) => [id, openCa(id, c, config.crl.publicUrl, config.ocsp, logger)]));
  const crlPublicUrl = config.crl.publicUrl;
  const crlService = createCrlService({
    store, cas, now: () => new Date(), validityHours: config.crl.validityHours, omitExpired: config.crl.omitExpired,
    ...(config.crl.deltaValidityHours === undefined ? {} : { deltaValidityHours: config.crl.deltaValidityHours }),
    ...(crlPublicUrl ? { deltaUrl: (id: string) => `${crlPublicUrl}/${id}-delta.crl` } : {}),
    logger,
  });
  // RFC 6960 §4.2.2.2: each CA's delegated OCSP responder certificate is issued at startup (renewed at half its life).
  for (const ca of cas.values()) if (signsOcsp(ca)) await ca.ocspResponder(new Date());
  const ocspService = createOcspService({ store, cas, now: () => new Date(), validityMinutes: config.ocsp.validityMinutes, logger });
  const limits: ListenerLimits = {
    requestTimeoutMs: config.limits.requestTimeoutSeconds * 1000,
    handshakeTimeoutMs: config.limits.handshakeTimeoutSeconds * 1000,
    maxConnectionsPerClient: config.limits.maxConnectionsPerClient,
  };
  const crlServer = createCrlServer(crlService, logger, { ocsp: ocspService, limits });
  let crlPort: number | undefined;
  const t = config.est.authThrottle;
  // RFC 5280 §6.3: TLS client certificates of external device CAs are checked against their CRLs.
  const deviceCrls = createDeviceCrlSource({ now: () => new Date(), logger });
  const tlsKey = readFileSync(config.tls.key);
  const tlsCert = readFileSync(config.tls.certificate);
  // RFC 7030 §4.4.2: encrypted server-generated keys are signed with the TLS key; replaced with it (reloadTls)
  const keyPackageSigner = { key: createPrivateKey(tlsKey), certificates: pemBlocks(tlsCert.toString('utf8')) };
  // One bound on full password hashes for EST HTTP Basic and Web RA sign-ins together.
  const gate = new HashGate();
  const readiness = createReadiness({
    store, cas, now: () => performance.now(),
    ...(options.readyProbeIntervalMs === undefined ? {} : { probeIntervalMs: options.readyProbeIntervalMs }),
  });
  const metrics = createMetrics({ store, readiness, defaultProfile: config.est.defaultProfile, operations: EST_OPERATIONS });
  const ops: OpsSource = { ready: () => readiness.ready(), metricsJson: () => metrics.registry.getMetricsAsJSON() };
  const service = createEnrollmentService({
    gate,
    store, cas, defaultProfile: config.est.defaultProfile, now: () => new Date(), logger, deviceCrls,
    maxPendingPerRequester: config.est.maxPendingPerRequester,
    maxCertificateBytes: config.est.maxCertificateBytes,
    basicThrottle: { maxFailuresPerAccount: t.maxFailuresPerAccount, maxFailuresPerAddress: t.maxFailuresPerAddress, windowSeconds: t.windowMinutes * 60, lockSeconds: t.lockMinutes * 60 },
    serverKeygenConcurrency: config.est.serverKeygenConcurrency,
    // RFC 7030 §4.4.2: encrypted server-generated keys are signed by this server, with its TLS key
    keyPackageSigner,
    onIssued: (profile, ca) => metrics.certificateIssued(profile, ca),
  });
  const est = await createEstServer({
    service,
    logger,
    tls: { key: tlsKey, cert: tlsCert },
    limits,
    proxy: config.est.proxy,
    metrics: metrics.est,
  });
  let port = config.est.listen.port;
  // Live lists: CAs added, changed or removed in estuary.yaml are taken up without a restart (ca-reload.ts).
  const adminCas = Object.entries(config.cas).map(([id, c]) => ({ id, type: c.type, admin: connectorType(c.type, `cas.${id}`).admin, backend: cas.get(id)! }));
  const reloader = watchCaConfig({
    config, env: process.env, cas, adminCas, logger,
    open: (id, c) => openCa(id, c, config.crl.publicUrl, config.ocsp, logger),
    changed: () => service.casChanged(),
  });
  const adminClientCa = config.admin.listen && config.admin.clientCertificateCa ? loadAdminClientCa(config.admin.clientCertificateCa) : undefined;
  const webhooks = createWebhookService({ store, config: config.webhooks, logger });
  const admin = config.admin.listen
    ? await createAdminServer({
        store,
        webhooks,
        cas: adminCas,
        caLifecycle: caLifecycleService({
          home: config.home, env: process.env, now: () => new Date(),
          reload: () => reloader.reload(), inService: (id) => cas.has(id),
        }),
        estUrl: (label) => `${estBaseUrl(config, port)}/${label}`,
        logger,
        tls: { key: tlsKey, cert: tlsCert },
        sessionIdleMinutes: config.admin.sessionIdleMinutes,
        sessionAbsoluteHours: config.admin.sessionAbsoluteHours,
        uiDir: defaultUiDir(),
        ...(adminClientCa ? { clientCertificateAnchors: adminClientCa } : {}),
        estBehindProxy: config.est.proxy !== undefined,
        defaultProfile: config.est.defaultProfile,
        limits,
        gate,
        ...options.admin,
      })
    : undefined;
  let adminPort: number | undefined;
  const opsServer = config.ops.listen
    ? createOpsServer({
        ready: () => readiness.ready(),
        metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
        logger,
        limits,
      })
    : undefined;
  let opsPort: number | undefined;

  function reloadTls(): void {
    const key = readFileSync(config.tls.key);
    const cert = readFileSync(config.tls.certificate);
    const privateKey = createPrivateKey(key);
    if (!new X509Certificate(cert).checkPrivateKey(privateKey)) throw new ConfigError(`${config.tls.key} is not the key of ${config.tls.certificate}; the server keeps its certificate`);
    const context = tlsContextOptions({ key, cert });
    (est.server as TlsServer).setSecureContext(context);
    (admin?.server as TlsServer | undefined)?.setSecureContext({ ...context, ...clientCertificateRequest(adminClientCa) });
    keyPackageSigner.key = privateKey;
    keyPackageSigner.certificates = pemBlocks(cert.toString('utf8'));
    logger.info({ certificate: config.tls.certificate, notAfter: new Date(new X509Certificate(cert).validTo).toISOString() }, 'server certificate reloaded');
  }
  const onHup = (): void => {
    try {
      reloadTls();
    } catch (err) {
      logger.error({ reason: (err as Error).message }, 'server certificate not reloaded');
    }
  };
  process.on('SIGHUP', onHup);
  const estProxies = config.est.proxy ? new TrustedProxies(config.est.proxy.trustedProxies) : undefined;
  // Every raw connection of every listener, so that the drain deadline can close what is left.
  const guards: ConnectionGuard[] = [
    // Trusted proxies carry many clients' connections: the per-client cap does not count theirs.
    guardConnections(est.server, { logger, now: Date.now, maxPerClient: limits.maxConnectionsPerClient, listener: 'est', ...(estProxies ? { exempt: (a: string) => estProxies.has(a) } : {}) }),
    guardConnections(crlServer, { logger, now: Date.now, maxPerClient: limits.maxConnectionsPerClient, listener: 'crl' }),
    ...(admin ? [guardConnections(admin.server, { logger, now: Date.now, maxPerClient: limits.maxConnectionsPerClient, listener: 'admin' })] : []),
  ];
  return {
    config,
    store,
    est,
    admin,
    ops,
    opsServer,
    logger,
    async listen(address = config.est.listen) {
      await bindListener(() => est.listen({ host: address.host, port: address.port }), address, { setting: 'est.listen', env: 'ESTUARY_EST_LISTEN' });
      const crlAddress = config.crl.listen;
      if (crlAddress) {
        await bindListener(
          () => new Promise<void>((resolve, reject) => {
            crlServer.once('error', reject);
            crlServer.listen(crlAddress.port, crlAddress.host, () => resolve());
          }),
          crlAddress, { setting: 'crl.listen', env: 'ESTUARY_CRL_LISTEN', canBeOff: true },
        );
        const a = crlServer.address();
        crlPort = typeof a === 'object' && a ? a.port : crlAddress.port;
      }
      const bound = est.server.address();
      port = typeof bound === 'object' && bound ? bound.port : address.port;
      const adminAddress = config.admin.listen;
      if (admin && adminAddress) {
        await bindListener(() => admin.listen({ host: adminAddress.host, port: adminAddress.port }), adminAddress, { setting: 'admin.listen', env: 'ESTUARY_ADMIN_LISTEN', canBeOff: true });
        const a = admin.server.address();
        adminPort = typeof a === 'object' && a ? a.port : adminAddress.port;
      }
      const opsAddress = config.ops.listen;
      if (opsServer && opsAddress) {
        try {
          opsPort = await opsServer.listen(opsAddress);
        } catch (err) {
          if (err instanceof OpsListenError) throw new ConfigError(err.message);
          throw err;
        }
      }
      webhooks.dispatcher.start();
      return port;
    },
    estUrl: () => estBaseUrl(config, port),
    adminUrl: () => (config.admin.listen && adminPort !== undefined ? adminBaseUrl(config.admin.listen, adminPort) : undefined),
    opsUrl: () => (config.ops.listen && opsPort !== undefined ? opsBaseUrl(config.ops.listen, opsPort) : undefined),
    crlBaseUrl: () => (config.crl.listen && crlPort !== undefined ? `http://${urlHost(config.crl.listen.host)}:${crlPort}/crl` : undefined),
    reloadCas: () => reloader.reload(),
    reloadTls,
    async close(drainMs = config.limits.drainSeconds * 1000) {
      reloader.close();
      process.off('SIGHUP', onHup);
      // In-flight requests get drainMs to finish; then every connection still open is closed,
      // so a slow or stalled client cannot keep a stopping server alive.
      const deadline = setTimeout(() => {
        const closed = guards.reduce((n, g) => n + g.destroyAll(), 0);
        if (closed > 0) logger.warn({ connections: closed, drainSeconds: drainMs / 1000 }, 'drain deadline reached: closing the connections still open');
      }, drainMs);
      try {
        await Promise.all([
          crlServer.listening ? new Promise<void>((resolve) => crlServer.close(() => resolve())) : undefined,
          admin?.close(),
          opsServer?.close(),
          est.close(),
        ]);
      } finally {
        clearTimeout(deadline);
      }
      await webhooks.dispatcher.stop();
      for (const ca of cas.values()) if (closable(ca)) await ca.close();
      await store.close();
    },
  };
}
