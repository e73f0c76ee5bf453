/**
 * `npm run bench` with the scenario through an RA (src/bench/upstream-scenario.ts), as it is run:
 * dist/bench/bench.js starts the upstream Estuary and, for each run, an RA whose profile issues
 * through an est connector to it; the native driver loads the RA. The RA's pool is set to 2
 * connections while the drivers hold 8, so the upstream handshake count the bench reports must be
 * the RA's (≤ 2, plus at most one reconnection), not the drivers' (8) nor one per enrollment.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const BENCH = join(process.cwd(), 'dist', 'bench', 'bench.js');

interface ThroughRa {
  raCpuPercent: number;
  upstreamCpuPercent: number;
  requestsPerRaCpuSecond: number;
  requestsPerUpstreamCpuSecond: number;
  upstreamRequests: number;
  upstreamHandshakes: number;
  handshakesPerThousand: number;
  upstreamConnectionsOpen: number;
}
interface Run {
  ok: number;
  errors: number;
  handshakes?: number;
  serverCpuPercent: number;
  ra?: ThroughRa;
}
interface Report {
  config: { raPool?: number };
  serverExit: string;
  scenarios: { scenario: string; errors: number; requestsPerSecond: number; requestsPerServerCpuSecond: number; ra?: ThroughRa; runs: Run[] }[];
  enrollRaOverDirectPerServerCpuPercent?: number;
}

it('reports throughput, per-process CPU and the RA\'s upstream handshakes next to direct enrollment', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [
    BENCH, '--scenarios', 'enroll-keepalive,enroll-ra-keepalive', '--runs', '2', '--duration', '2', '--warmup', '0.5',
    '--concurrency', '8', '--ra-pool', '2', '--json',
  ], { encoding: 'utf8', timeout: 170_000, maxBuffer: 64 * 1024 * 1024 });
  const report = JSON.parse(stdout) as Report;
  expect(report.config.raPool).toBe(2);
  expect(report.serverExit).toBe('exit 0');
  const [direct, ra] = report.scenarios;
  expect(direct!.scenario).toBe('enroll-keepalive');
  expect(direct!.ra).toBeUndefined();
  expect(ra!.scenario).toBe('enroll-ra-keepalive');
  for (const s of report.scenarios) {
    expect(s.errors, s.scenario).toBe(0);
    expect(s.requestsPerSecond, s.scenario).toBeGreaterThan(0);
  }
  expect(ra!.runs).toHaveLength(2);
  for (const run of ra!.runs) {
    const r = run.ra!;
    // every enrollment the drivers completed went upstream, plus the sanity check and the warm-up
    expect(r.upstreamRequests).toBeGreaterThan(run.ok);
    // the drivers' own connections to the RA: one per client
    expect(run.handshakes).toBeGreaterThanOrEqual(8);
    // the RA's to the upstream: its pool of 2, one more if a kept-alive connection was reset
    expect(r.upstreamHandshakes).toBeGreaterThanOrEqual(1);
    expect(r.upstreamHandshakes).toBeLessThanOrEqual(3);
    expect(r.handshakesPerThousand).toBeCloseTo((1000 * r.upstreamHandshakes) / r.upstreamRequests, 6);
    expect(r.upstreamConnectionsOpen).toBeGreaterThanOrEqual(1);
    expect(r.upstreamConnectionsOpen).toBeLessThanOrEqual(2);
    // both processes worked, and "server CPU" is their sum
    expect(r.raCpuPercent).toBeGreaterThan(0);
    expect(r.upstreamCpuPercent).toBeGreaterThan(0);
    expect(run.serverCpuPercent).toBeCloseTo(r.raCpuPercent + r.upstreamCpuPercent, 6);
  }
  expect(ra!.ra!.upstreamHandshakes).toBeLessThanOrEqual(3);
  expect(Number.isFinite(report.enrollRaOverDirectPerServerCpuPercent)).toBe(true);
}, 180_000);
