/**
 * The operations listener under `serve --workers N`: the primary holds no store and no CA, so it
 * answers /readyz and /metrics by asking every worker over the cluster IPC channel and merging the
 * answers. A request carries an id; a worker that does not answer within the timeout is a failed
 * ready check (and is left out of the metrics), never a hung probe.
 */
import { AggregatorRegistry } from 'prom-client';
import type { MetricsJson, OpsSource, ReadyCheck } from '../ops/ops-source.js';

/** Primary → worker: run one OpsSource method. */
export interface OpsRequest {
  type: 'estuary:ops';
  id: number;
  op: 'ready' | 'metrics';
}

/** Worker → primary: the answer to the request with the same id. */
export type OpsReply =
  | { type: 'estuary:ops-reply'; id: number; ok: true; checks: ReadyCheck[] }
  | { type: 'estuary:ops-reply'; id: number; ok: true; metrics: MetricsJson }
  | { type: 'estuary:ops-reply'; id: number; ok: false; error: string };

/** What the primary needs of a worker: a cluster.Worker has all of it. */
export interface WorkerChannel {
  readonly id: number;
  readonly process: { readonly pid?: number | undefined };
  send(message: OpsRequest, callback: (error: Error | null) => void): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
}

export interface ClusterOpsOptions {
  /** The workers alive now (cluster.workers). */
  workers: () => WorkerChannel[];
  /** How many workers should be running: fewer answering is a failed check. */
  expected: () => number;
  /** How long a worker gets to answer (default 2000 ms). */
  timeoutMs?: number;
}

function isReply(m: unknown): m is OpsReply {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'estuary:ops-reply' && typeof (m as { id?: unknown }).id === 'number';
}

/** Ask one worker; resolves to its reply, or to an error reply on timeout or a closed channel. */
function ask(worker: WorkerChannel, op: OpsRequest['op'], id: number, timeoutMs: number): Promise<OpsReply> {
  return new Promise((resolve) => {
    const done = (reply: OpsReply): void => {
      clearTimeout(timer);
      worker.off('message', listen);
      resolve(reply);
    };
    const listen = (m: unknown): void => {
      if (isReply(m) && m.id === id) done(m);
    };
    const timer = setTimeout(() => done({ type: 'estuary:ops-reply', id, ok: false, error: `did not answer within ${timeoutMs} ms` }), timeoutMs);
    worker.on('message', listen);
    const failed = (err: Error): void => done({ type: 'estuary:ops-reply', id, ok: false, error: `cannot ask it (${err.message})` });
    try {
      // false is back-pressure, not failure: the message is queued and the timer still runs
      worker.send({ type: 'estuary:ops', id, op }, (err) => err && failed(err));
    } catch (err) {
      failed(err as Error);
    }
  });
}

const label = (w: WorkerChannel): string => `worker ${w.id} (pid ${w.process.pid ?? '?'})`;

/** The primary's OpsSource: every worker's checks (named after the worker) and the merged metrics. */
export function clusterOpsSource(o: ClusterOpsOptions): OpsSource {
  const timeoutMs = o.timeoutMs ?? 2000;
  let nextId = 1;
  return {
    async ready() {
      const workers = o.workers();
      const replies = await Promise.all(workers.map((w) => ask(w, 'ready', nextId++, timeoutMs)));
      const checks: ReadyCheck[] = [];
      const expected = o.expected();
      checks.push(workers.length >= expected
        ? { name: 'workers', ok: true }
        : { name: 'workers', ok: false, detail: `${workers.length} of ${expected} workers running` });
      replies.forEach((r, i) => {
        const name = label(workers[i]!);
        if (!r.ok) checks.push({ name, ok: false, detail: r.error });
        else if ('checks' in r) for (const c of r.checks) checks.push({ ...c, name: `${name}: ${c.name}` });
        else checks.push({ name, ok: false, detail: 'answered a ready check with metrics' });
      });
      return checks;
    },
    async metricsJson() {
      const workers = o.workers();
      const replies = await Promise.all(workers.map((w) => ask(w, 'metrics', nextId++, timeoutMs)));
      const arrays = replies.flatMap((r) => (r.ok && 'metrics' in r ? [r.metrics] : []));
      // Counters and histograms are summed, gauges by their aggregator (prom-client's defaults per metric).
      return AggregatorRegistry.aggregate(arrays).getMetricsAsJSON() as Promise<MetricsJson>;
    },
  };
}

export interface OpsChannel {
  on(event: 'message', listener: (message: unknown) => void): unknown;
  send?: ((message: OpsReply) => boolean) | undefined;
}

/** Worker side: answer the primary's requests from this process's OpsSource. */
export function answerOpsRequests(source: OpsSource, channel: OpsChannel = process as unknown as OpsChannel): void {
  channel.on('message', (m: unknown) => {
    if (typeof m !== 'object' || m === null || (m as { type?: unknown }).type !== 'estuary:ops') return;
    const { id, op } = m as OpsRequest;
    const reply = (r: OpsReply): void => {
      try {
        channel.send?.(r);
      } catch {
        // the primary is gone: nobody to answer
      }
    };
    const work = op === 'ready'
      ? source.ready().then((checks): OpsReply => ({ type: 'estuary:ops-reply', id, ok: true, checks }))
      : source.metricsJson().then((metrics): OpsReply => ({ type: 'estuary:ops-reply', id, ok: true, metrics }));
    work.then(reply, (err: unknown) => reply({ type: 'estuary:ops-reply', id, ok: false, error: (err as Error).message }));
  });
}
