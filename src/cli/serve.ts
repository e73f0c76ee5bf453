/**
 * `estuary serve`: run until SIGTERM/SIGINT, then drain and exit 0. With `--workers N` (N > 1)
 * this process becomes the cluster primary (cluster.ts) and each worker runs the path below.
 */
import cluster from 'node:cluster';
import { servePrimary } from './cluster.js';
import { serveWorker } from './cluster-worker.js';
import type { Config } from './config.js';
import { createRuntime } from './runtime.js';
import { announce, drainer, logListening, serviceUrls } from './serve-lifecycle.js';

/** `workers`: processes to run (1: this process serves, as always). */
export async function serve(config: Config, workers = 1): Promise<void> {
  if (cluster.isWorker) return serveWorker(config);
  if (workers > 1) return servePrimary(config, workers);
  const runtime = await createRuntime(config);
  try {
    await runtime.listen();
  } catch (err) {
    // e.g. an address in use: stop what did start, so the process exits with the error.
    await runtime.close(0).catch(() => undefined);
    throw err;
  }
  logListening(runtime);
  announce(serviceUrls(runtime));
  const stop = drainer(config, runtime);
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
