/**
 * `estuary serve --workers N`: the cluster primary. It opens neither the store nor the CAs: it forks
 * N workers (cluster-worker.ts), which listen on the same EST, CRL and Web RA addresses (node:cluster
 * shares the listening sockets and hands connections round robin), and supervises them:
 * - startup: ready when every worker listens; one worker failing to start (bad CA key, port in use)
 *   stops all of them with that error, exit 2, and nothing is forked again;
 * - a worker that dies later is replaced, after a backoff that grows with the restarts of the last
 *   minute; past MAX_RESTARTS_PER_MINUTE the restart waits for the minute to pass, logged as an error;
 * - SIGTERM/SIGINT: every worker drains (limits.drainSeconds) and exits, then the primary exits 0;
 * - SIGHUP is passed to every worker (TLS certificate and CA reload).
 * The Web RA runs in one worker only (another takes it over when that one dies): its sessions and
 * sign-in lockouts are kept in process memory, and a browser's next connection may go to any worker.
 * Port 0 gives all workers the same port (node:cluster keys a shared socket by address, port and the
 * order of listen calls), as long as one worker holds it: use fixed ports outside tests.
 */
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import { createOpsServer, OpsListenError } from '../ops/ops-server.js';
import type { OpsSource } from '../ops/ops-source.js';
import { clusterOpsSource } from './cluster-ops.js';
import { isWorkerMessage } from './cluster-worker.js';
import { ConfigError, opsBaseUrl, type Config } from './config.js';
import { atomicGatheredStdout } from './log-destination.js';
import { createLogger } from './runtime.js';
import { announce, type ServiceUrls } from './serve-lifecycle.js';

export const MAX_WORKERS = 256;
export const MAX_RESTARTS_PER_MINUTE = 10;

/** `--workers`: a count from 1 to 256, or `auto` (os.availableParallelism()). */
export function parseWorkers(text: string | undefined, cores: () => number = availableParallelism): number {
  if (text === undefined) return 1;
  if (text.trim() === 'auto') return Math.max(1, Math.min(MAX_WORKERS, cores()));
  const n = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_WORKERS) throw new ConfigError(`--workers: expected auto or a number from 1 to ${MAX_WORKERS}, got "${text}"`);
  return n;
}

/** Delay before replacing a worker, from the restarts of the last minute (times in ms). */
export function restartDelay(recent: number[], now: number, limit = MAX_RESTARTS_PER_MINUTE): { delayMs: number; limited: boolean } {
  const inWindow = recent.filter((t) => now - t < 60_000).sort((a, b) => a - b);
  if (inWindow.length >= limit) return { delayMs: inWindow[inWindow.length - limit]! + 60_000 - now, limited: true };
  return { delayMs: Math.min(10_000, 250 * 2 ** inWindow.length), limited: false };
}

export interface PrimaryOptions {
  logger?: Logger;
  now?: () => number;
}

/** EST and CRL addresses must be the same in every worker (the Web RA runs in one). */
const same = (a: ServiceUrls, b: ServiceUrls): boolean => a.est === b.est && a.crl === b.crl;

export async function servePrimary(config: Config, count: number, o: PrimaryOptions = {}): Promise<void> {
  const logger = o.logger ?? createLogger(config.log.level, atomicGatheredStdout());
  const now = o.now ?? Date.now;
  let phase: 'starting' | 'running' | 'stopping' = 'starting';
  const listening = new Map<number, ServiceUrls>();
  const restarts: number[] = [];
  let queued = 0;
  let ready = false;
  let restartTimer: NodeJS.Timeout | undefined;
  let urls: ServiceUrls | undefined;
  // The worker (cluster id) that runs the Web RA, when admin.listen is on.
  let adminWorker: number | undefined;
  const fork = (): Worker => {
    const admin = config.admin.listen !== undefined && (adminWorker === undefined || !live().some((w) => w.id === adminWorker));
    // The primary runs the operations listener for all of them (clusterOpsSource asks each worker).
    const w = cluster.fork({ ESTUARY_OPS_LISTEN: 'off', ...(admin ? {} : { ESTUARY_ADMIN_LISTEN: 'off' }) });
    if (admin) adminWorker = w.id;
    return w;
  };
  const live = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());

  let startupFailed: (message: string) => void = () => {};
  const started = new Promise<void>((resolve, reject) => {
    startupFailed = (message) => reject(new ConfigError(message));
    const check = (): void => {
      if (phase === 'starting' && listening.size === count) resolve();
    };
    cluster.on('message', (worker: Worker, m: unknown) => {
      if (!isWorkerMessage(m)) return;
      if (m.type === 'estuary:failed') {
        if (phase === 'starting') startupFailed(m.message);
        else logger.error({ worker: worker.id, workerPid: worker.process.pid, reason: m.message }, 'a replacement worker could not start');
        return;
      }
      listening.set(worker.id, m.urls);
      if (phase === 'starting') {
        if (urls && !same(urls, m.urls)) startupFailed(`the workers listen on different addresses (${urls.est} and ${m.urls.est})`);
        urls ??= m.urls;
        if (m.urls.admin) urls.admin = m.urls.admin;
        check();
      } else {
        if (urls && (!same(urls, m.urls) || (m.urls.admin && m.urls.admin !== urls.admin))) {
          logger.error({ worker: worker.id, urls: m.urls, expected: urls }, 'a replacement worker listens on other addresses (port 0 with no worker left holding it?)');
        }
        logger.info({ worker: worker.id, workerPid: worker.process.pid }, 'replacement worker listening');
      }
    });
  });

  /** One restart at a time: each waits its backoff, then the next queued one is scheduled. */
  function scheduleRestart(): void {
    if (restartTimer || queued === 0 || phase !== 'running') return;
    const { delayMs, limited } = restartDelay(restarts, now());
    if (limited) {
      logger.error({ restartsPerMinute: MAX_RESTARTS_PER_MINUTE, waitMs: delayMs },
        `WORKERS KEEP DYING: ${MAX_RESTARTS_PER_MINUTE} restarts in the last minute; the next restart waits for the minute to pass. Look at the worker errors above.`);
    }
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      if (phase !== 'running') return;
      queued--;
      restarts.push(now());
      const w = fork();
      logger.warn({ worker: w.id, workerPid: w.process.pid }, 'worker replaced');
      scheduleRestart();
    }, delayMs);
  }

  cluster.on('exit', (worker: Worker, code: number | null, signal: string | null) => {
    listening.delete(worker.id);
    if (phase === 'starting') {
      startupFailed(`worker ${worker.id} exited (${signal ?? `code ${code}`}) before listening`);
      return;
    }
    if (phase === 'stopping') {
      if (code !== 0 && ready) logger.warn({ worker: worker.id, workerPid: worker.process.pid, code, signal }, 'worker did not exit cleanly');
      return;
    }
    logger.error({ worker: worker.id, workerPid: worker.process.pid, code, signal }, 'worker died; replacing it');
    queued++;
    scheduleRestart();
  });

  // Signals: set before the first fork, so a signal during startup stops the workers too.
  let exitCode = 0;
  const stopAll = (reason: string): Promise<void> => {
    phase = 'stopping';
    if (restartTimer) clearTimeout(restartTimer);
    const workers = live();
    logger.info({ reason, workers: workers.length, drainSeconds: config.limits.drainSeconds }, 'stopping the workers');
    const exited = workers.map((w) => new Promise<void>((resolve) => {
      if (w.isDead()) return resolve();
      w.once('exit', (code: number | null) => {
        if (code !== 0) exitCode = 1;
        resolve();
      });
    }));
    // SIGTERM, not an IPC message: a worker still starting has no handler yet and simply ends.
    for (const w of workers) w.process.kill('SIGTERM');
    // A worker still running 5 s after its own last resort (drainSeconds + 5 s) is killed.
    const deadline = setTimeout(() => {
      for (const w of live()) {
        logger.error({ worker: w.id, workerPid: w.process.pid }, 'worker did not stop after the drain deadline; killing it');
        w.process.kill('SIGKILL');
      }
      exitCode = 1;
    }, config.limits.drainSeconds * 1000 + 10_000);
    return Promise.all(exited).then(() => clearTimeout(deadline));
  };
  let stopping: Promise<void> | undefined;
  const onSignal = (signal: string): void => {
    if (stopping) return;
    stopping = stopAll(signal).then(() => logger.flush(() => process.exit(exitCode)));
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGHUP', () => {
    logger.info({ workers: live().length }, 'SIGHUP: passed to every worker');
    for (const w of live()) w.process.kill('SIGHUP');
  });

  logger.info({ workers: count }, 'starting workers');
  for (let i = 0; i < count; i++) fork();
  try {
    await started;
  } catch (err) {
    // No fork loop: the first startup error stops everything and is what the operator sees.
    if (!stopping) stopping = stopAll('a worker could not start');
    await stopping;
    throw err;
  }
  if (stopping) return; // a signal arrived during startup
  phase = 'running';
  ready = true;
  logger.info({ workers: count, workerPids: live().map((w) => w.process.pid), estUrl: urls!.est, ...(adminWorker === undefined ? {} : { adminWorker }) }, 'all workers listening');
  const ops = clusterOpsSource({ workers: live, expected: () => count });
  let opsUrl: string | undefined;
  try {
    opsUrl = await listenOps(config, ops, logger);
  } catch (err) {
    // e.g. ops.listen in use: stop the workers too, so the process exits with the error
    stopping = stopAll('the operations listener could not start');
    await stopping;
    throw err;
  }
  announce({ ...urls!, ops: opsUrl });
  process.stdout.write(`${count} workers (pids ${live().map((w) => w.process.pid).join(', ')}), primary pid ${process.pid}\n`);
}

/** The operations listener of the whole cluster, in the primary: every worker's checks, the merged metrics. */
async function listenOps(config: Config, ops: OpsSource, logger: Logger): Promise<string | undefined> {
  const address = config.ops.listen;
  if (!address) return undefined;
  const server = createOpsServer({
    ready: () => ops.ready(),
    metrics: async () => {
      const merged = AggregatorRegistry.aggregate([await ops.metricsJson()]);
      return { contentType: merged.contentType, body: await merged.metrics() };
    },
    logger,
  });
  let port: number;
  try {
    port = await server.listen(address);
  } catch (err) {
    // as for a single process (runtime.ts): the setting to change, in one line
    if (err instanceof OpsListenError) throw new ConfigError(err.message);
    throw err;
  }
  const url = opsBaseUrl(address, port);
  logger.info({ opsUrl: url }, 'operations listener (/healthz, /readyz, /metrics) listening for every worker');
  return url;
}
