/** `estuary serve`: run until SIGTERM/SIGINT, then drain and exit 0. */
import { nativeCrypto } from '../pki/native-crypto.js';
import type { Config } from './config.js';
import { createRuntime } from './runtime.js';

export async function serve(config: Config): Promise<void> {
  const runtime = await createRuntime(config);
  await runtime.listen();
  runtime.logger.info({ estUrl: runtime.estUrl() }, 'EST service listening');
  if (nativeCrypto.loaded) runtime.logger.info('P-256/P-384 CSR verification and CA signing use the native addon');
  else runtime.logger.warn({ reason: nativeCrypto.reason }, 'native ECDSA addon not loaded; node:crypto is used (slower)');
  process.stdout.write(`EST service listening on ${runtime.estUrl()}\n`);
  const admin = runtime.adminUrl();
  if (admin) {
    runtime.logger.info({ adminUrl: admin }, 'Web RA listening');
    process.stdout.write(`Web RA listening on ${admin}\n`);
  }
  const crl = runtime.crlBaseUrl();
  if (crl) process.stdout.write(`CRLs published at ${crl}/<ca>.crl, OCSP responder at ${crl.replace(/\/crl$/, '/ocsp')}/<ca>\n`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    runtime.logger.info({ signal }, 'draining in-flight requests');
    runtime.close().then(
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
