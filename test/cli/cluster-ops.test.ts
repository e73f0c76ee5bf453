/**
 * The cluster primary's OpsSource over real node:cluster IPC: workers (test/fixtures/ops-worker.mjs,
 * using the built answerOpsRequests) answer ready checks and metrics; the primary names each
 * worker's checks, fails a worker that does not answer in time, counts missing workers, and sums
 * counters with prom-client's AggregatorRegistry. Also the pure parts of the supervisor.
 */
import cluster, { type Worker } from 'node:cluster';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterOpsSource } from '../../src/cli/cluster-ops.js';
import { MAX_RESTARTS_PER_MINUTE, parseWorkers, restartDelay } from '../../src/cli/cluster.js';

const FIXTURE = join(process.cwd(), 'test', 'fixtures', 'ops-worker.mjs');

async function forkWorker(mode: 'ok' | 'failing' | 'silent', count = 1): Promise<Worker> {
  const w = cluster.fork({ OPS_WORKER_MODE: mode, OPS_WORKER_COUNT: String(count) });
  await new Promise<void>((resolve, reject) => {
    w.on('message', (m: { type?: string }) => m?.type === 'fixture-ready' && resolve());
    w.once('exit', (code) => reject(new Error(`fixture worker exited (${code})`)));
  });
  return w;
}

describe('clusterOpsSource over node:cluster IPC', () => {
  const workers: Worker[] = [];
  beforeAll(() => {
    cluster.setupPrimary({ exec: FIXTURE, silent: false });
  });
  afterAll(() => {
    for (const w of workers) w.process.kill('SIGKILL');
  });

  it('merges the checks and sums the metrics of every worker', async () => {
    workers.push(await forkWorker('ok', 3), await forkWorker('ok', 4));
    const ops = clusterOpsSource({ workers: () => workers.slice(0, 2), expected: () => 2 });
    const checks = await ops.ready();
    expect(checks).toEqual([
      { name: 'workers', ok: true },
      { name: `worker ${workers[0]!.id} (pid ${workers[0]!.process.pid}): store`, ok: true },
      { name: `worker ${workers[1]!.id} (pid ${workers[1]!.process.pid}): store`, ok: true },
    ]);
    const metrics = await ops.metricsJson();
    const issued = metrics.find((m) => m.name === 'estuary_test_issued_total');
    expect(issued?.type).toBe('counter');
    expect(issued?.values.map((v) => v.value)).toEqual([7]);
  });

  it('fails a worker that does not answer in time, or answers not ready, and a missing worker', async () => {
    workers.push(await forkWorker('silent'), await forkWorker('failing'));
    const [ok, , silent, failing] = workers as [Worker, Worker, Worker, Worker];
    const ops = clusterOpsSource({ workers: () => [ok, silent, failing], expected: () => 4, timeoutMs: 300 });
    const checks = await ops.ready();
    expect(checks).toEqual([
      { name: 'workers', ok: false, detail: '3 of 4 workers running' },
      { name: `worker ${ok.id} (pid ${ok.process.pid}): store`, ok: true },
      { name: `worker ${silent.id} (pid ${silent.process.pid})`, ok: false, detail: 'did not answer within 300 ms' },
      { name: `worker ${failing.id} (pid ${failing.process.pid}): store`, ok: false, detail: 'SQLITE_CANTOPEN' },
    ]);
    // the metrics of the workers that answered: the silent and the failing one are left out
    const issued = (await ops.metricsJson()).find((m) => m.name === 'estuary_test_issued_total');
    expect(issued?.values.map((v) => v.value)).toEqual([3]);
  });

  it('reports a worker whose channel is closed as not ready', async () => {
    const w = await forkWorker('ok');
    const exited = new Promise((resolve) => w.once('exit', resolve));
    w.process.kill('SIGKILL');
    await exited;
    const ops = clusterOpsSource({ workers: () => [w], expected: () => 1, timeoutMs: 300 });
    const [, check] = await ops.ready();
    expect(check).toMatchObject({ name: `worker ${w.id} (pid ${w.process.pid})`, ok: false, detail: expect.stringMatching(/^cannot ask it/) });
  });
});

describe('serve --workers: parsing and restart backoff', () => {
  it('parses a count or auto', () => {
    expect(parseWorkers(undefined)).toBe(1);
    expect(parseWorkers('3')).toBe(3);
    expect(parseWorkers('auto', () => 6)).toBe(6);
    for (const bad of ['0', '-1', '1.5', 'two', '257', '']) expect(() => parseWorkers(bad), bad).toThrow(/--workers: expected auto or a number from 1 to 256/);
  });

  it('backs off with the restarts of the last minute, and waits for the minute past the limit', () => {
    const t = 1_000_000;
    expect(restartDelay([], t)).toEqual({ delayMs: 250, limited: false });
    expect(restartDelay([t - 1000, t - 2000], t)).toEqual({ delayMs: 1000, limited: false });
    expect(restartDelay([t - 61_000, t - 62_000], t)).toEqual({ delayMs: 250, limited: false });
    expect(restartDelay(Array.from({ length: 6 }, (_, i) => t - i * 1000), t).delayMs).toBe(10_000);
    const full = Array.from({ length: MAX_RESTARTS_PER_MINUTE }, (_, i) => t - 50_000 + i * 1000);
    expect(restartDelay(full, t)).toEqual({ delayMs: 10_000, limited: true });
  });
});
