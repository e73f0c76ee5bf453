/** `estuary serve`: run until SIGTERM/SIGINT, then drain and exit 0. */
import { nativeCrypto } from '../pki/native-crypto.js';
import type { Config } from './config.js';
import { createRuntime } from './runtime.js';

export async function serve(config: Config): Promise<void> {
  const runtime = await createRuntime(config);
  try {
    await runtime.listen();
  } catch (err) {
    // e.g. an address in use: stop what did start, so the process exits with the error.
    await runtime.close(0).catch(() => undefined);
    throw err;
  }
  runtime.logger.info({ estUrl: runtime.estUrl() }, 'EST service listening');
  if (nativeCrypto.loaded) runtime.logger.info('P-256/P-384 CSR verification and CA signing use the native addon');
  else runtime.logger.warn({ reason: nativeCrypto.reason }, 'native ECDSA addon not loaded; node:crypto is used (slower)');
  process.stdout.write(`EST service listening on ${runtime.estUrl()}\n`);
  const admin = runtime.adminUrl();
  if (admin) {
    runtime.logger.info({ adminUrl: admin }, 'Web RA listening');
    process.stdout.write(`Web RA listening on ${admin}\n`);
  }
  const ops = runtime.opsUrl();
  if (ops) {
    runtime.logger.info({ opsUrl: ops }, 'operations listener (/healthz, /readyz, /metrics) listening');
    process.stdout.write(`Health and metrics on ${ops}/healthz, ${ops}/readyz, ${ops}/metrics\n`);
  }
  const crl = runtime.crlBaseUrl();
  if (crl) process.stdout.write(`CRLs published at ${crl}/<ca>.crl, OCSP responder at ${crl.replace(/\/crl$/, '/ocsp')}/<ca>\n`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    const drainMs = config.limits.drainSeconds * 1000;
    runtime.logger.info({ signal, drainSeconds: config.limits.drainSeconds }, 'draining in-flight requests');
    // close() ends every connection at the drain deadline; this is the last resort if something else hangs.
    setTimeout(() => {
      runtime.logger.error({ drainSeconds: config.limits.drainSeconds }, 'shutdown did not finish after the drain deadline; exiting');
      runtime.logger.flush(() => process.exit(1));
    }, drainMs + 5000).unref();
    runtime.close(drainMs).then(
      () => runtime.logger.flush(() => process.exit(0)),
      (err: unknown) => {
        runtime.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
