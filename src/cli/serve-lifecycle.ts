/** What every serving process shares: the stdout lines, the listening log lines, drain-and-exit. */
import { nativeCrypto } from '../pki/native-crypto.js';
import type { Config } from './config.js';
import type { Runtime } from './runtime.js';

/** The bound addresses, as printed on stdout once the service listens. */
export interface ServiceUrls {
  est: string;
  admin: string | undefined;
  crl: string | undefined;
  /** The operations listener (under --workers: the primary's). */
  ops: string | undefined;
}

export function serviceUrls(runtime: Runtime): ServiceUrls {
  return { est: runtime.estUrl(), admin: runtime.adminUrl(), crl: runtime.crlBaseUrl(), ops: runtime.opsUrl() };
}

/** The lines operators and tests read on stdout (printed once, also under --workers). */
export function announce(urls: ServiceUrls, write: (line: string) => void = (l) => process.stdout.write(l)): void {
  write(`EST service listening on ${urls.est}\n`);
  if (urls.admin) write(`Web RA listening on ${urls.admin}\n`);
  if (urls.crl) write(`CRLs published at ${urls.crl}/<ca>.crl, OCSP responder at ${urls.crl.replace(/\/crl$/, '/ocsp')}/<ca>\n`);
  if (urls.ops) write(`Health and metrics on ${urls.ops}/healthz, ${urls.ops}/readyz, ${urls.ops}/metrics\n`);
}

/** Log what the runtime listens on and which crypto path it uses. */
export function logListening(runtime: Runtime): void {
  runtime.logger.info({ estUrl: runtime.estUrl() }, 'EST service listening');
  if (nativeCrypto.loaded) runtime.logger.info('P-256/P-384 CSR verification and CA signing use the native addon');
  else runtime.logger.warn({ reason: nativeCrypto.reason }, 'native ECDSA addon not loaded; node:crypto is used (slower)');
  const admin = runtime.adminUrl();
  if (admin) runtime.logger.info({ adminUrl: admin }, 'Web RA listening');
  const ops = runtime.opsUrl();
  if (ops) runtime.logger.info({ opsUrl: ops }, 'operations listener (/healthz, /readyz, /metrics) listening');
}

/** A stop function: drain in-flight requests for limits.drainSeconds, then exit 0 (1 when shutdown fails). Safe to call twice. */
export function drainer(config: Config, runtime: Runtime): (reason: string) => void {
  let stopping = false;
  return (reason) => {
    if (stopping) return;
    stopping = true;
    const drainMs = config.limits.drainSeconds * 1000;
    runtime.logger.info({ signal: reason, drainSeconds: config.limits.drainSeconds }, 'draining in-flight requests');
    // close() ends every connection at the drain deadline; this is the last resort if something else hangs.
    setTimeout(() => {
      runtime.logger.error({ drainSeconds: config.limits.drainSeconds }, 'shutdown did not finish after the drain deadline; exiting');
      runtime.logger.flush(() => process.exit(1));
    }, drainMs + 5000).unref();
    const started = Date.now();
    runtime.close(drainMs).then(
      () => {
        runtime.logger.info({ signal: reason, drainedMs: Date.now() - started }, 'drained: listeners closed, store closed; exiting');
        runtime.logger.flush(() => process.exit(0));
      },
      (err: unknown) => {
        runtime.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
}
