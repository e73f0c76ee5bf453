/**
 * One worker of `serve --workers N`: today's serve path (its own runtime, store connection, writer
 * thread and CA keys) on listening sockets the cluster primary shares among the workers. It tells
 * the primary when it listens or why it could not start, answers ops requests, and drains on SIGTERM
 * (which the primary sends each worker when it is told to stop) or SIGINT.
 */
import { answerOpsRequests } from './cluster-ops.js';
import type { Config } from './config.js';
import { atomicGatheredStdout } from './log-destination.js';
import { createLogger, createRuntime, type Runtime } from './runtime.js';
import { drainer, logListening, serviceUrls, type ServiceUrls } from './serve-lifecycle.js';

/** Worker → primary. */
export type WorkerMessage =
  | { type: 'estuary:listening'; urls: ServiceUrls }
  | { type: 'estuary:failed'; message: string };

export function isWorkerMessage(m: unknown): m is WorkerMessage {
  const t = (m as { type?: unknown } | null)?.type;
  return t === 'estuary:listening' || t === 'estuary:failed';
}

function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

export async function serveWorker(config: Config): Promise<void> {
  let runtime: Runtime;
  try {
    // every worker writes to the primary's standard output: whole lines per write (no interleaving)
    runtime = await createRuntime(config, createLogger(config.log.level, atomicGatheredStdout()));
    await runtime.listen();
  } catch (err) {
    // The primary prints this once and stops every worker: a bad config or a port in use is not retried.
    await send({ type: 'estuary:failed', message: (err as Error).message });
    process.exit(2);
  }
  logListening(runtime);
  answerOpsRequests(runtime.ops);
  const stop = drainer(config, runtime);
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // A primary that dies makes Node exit this worker at once (node:cluster's own 'disconnect' handler).
  await send({ type: 'estuary:listening', urls: serviceUrls(runtime) });
}
