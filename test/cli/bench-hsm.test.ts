/**
 * `npm run bench` with the SoftHSM2 scenario (src/bench/hsm-scenario.ts), as it is run:
 * dist/bench/bench.js makes its own token (SOFTHSM2_CONF in its temporary directory), moves a fresh
 * home's issuing key into it, and measures keep-alive simpleenroll there next to the software key.
 * SoftHSM2 is required here (a missing one fails, it does not skip).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { softHsmMissing } from '../../src/bench/hsm-scenario.js';

const BENCH = join(process.cwd(), 'dist', 'bench', 'bench.js');

interface Run {
  ok: number;
  errors: number;
  serverCpuPercent: number;
  requestsPerServerCpuSecond: number;
}
interface Report {
  config: { hsmSessions?: number };
  serverExit: string;
  hsmServerExit?: string;
  hsmSkipped?: string;
  scenarios: { scenario: string; errors: number; requestsPerSecond: number; requestsPerServerCpuSecond: number; runs: Run[] }[];
  enrollHsmOverSoftwarePercent?: number;
  enrollHsmOverSoftwarePerServerCpuPercent?: number;
}

it('reports keep-alive enrollment with the issuing key in SoftHSM2 next to the software key, without errors', async () => {
  expect(softHsmMissing()).toBeUndefined();
  const { stdout, stderr } = await promisify(execFile)(process.execPath, [
    BENCH, '--scenarios', 'enroll-keepalive,enroll-hsm-keepalive', '--runs', '2', '--duration', '2', '--warmup', '0.5',
    '--concurrency', '8', '--hsm-sessions', '4', '--json',
  ], { encoding: 'utf8', timeout: 170_000, maxBuffer: 64 * 1024 * 1024 });
  const report = JSON.parse(stdout) as Report;
  expect(report.hsmSkipped).toBeUndefined();
  expect(report.config.hsmSessions).toBe(4);
  expect(report.serverExit).toBe('exit 0');
  // still running when the bench stopped it: 4 sessions sign at once in the thread pool (a module
  // initialized without locking crashed here)
  expect(report.hsmServerExit).toBe('exit 0');
  expect(stderr).toMatch(/SoftHSM2 home .*sessions 4/);
  expect(report.scenarios.map((s) => s.scenario)).toEqual(['enroll-keepalive', 'enroll-hsm-keepalive']);
  for (const s of report.scenarios) {
    expect(s.errors, s.scenario).toBe(0);
    expect(s.runs).toHaveLength(2);
    for (const run of s.runs) {
      expect(run.ok, s.scenario).toBeGreaterThan(0);
      expect(run.errors, s.scenario).toBe(0);
      expect(run.serverCpuPercent, s.scenario).toBeGreaterThan(0);
    }
    expect(s.requestsPerSecond, s.scenario).toBeGreaterThan(0);
    expect(Number.isFinite(s.requestsPerServerCpuSecond), s.scenario).toBe(true);
  }
  const [software, hsm] = report.scenarios;
  expect(report.enrollHsmOverSoftwarePercent).toBeCloseTo((100 * hsm!.requestsPerSecond) / software!.requestsPerSecond, 6);
  expect(report.enrollHsmOverSoftwarePerServerCpuPercent).toBeCloseTo((100 * hsm!.requestsPerServerCpuSecond) / software!.requestsPerServerCpuSecond, 6);
}, 180_000);

it('the text report carries the HSM/software line', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [
    BENCH, '--scenarios', 'enroll-keepalive,enroll-hsm-keepalive', '--duration', '1', '--warmup', '0.5', '--concurrency', '4',
  ], { encoding: 'utf8', timeout: 170_000, maxBuffer: 64 * 1024 * 1024 });
  expect(stdout).toMatch(/^enroll-hsm-keepalive +\d+\.\d +.* 0 +/m);
  expect(stdout).toMatch(/server stopped with exit 0, the SoftHSM2 server with exit 0/);
  expect(stdout).toMatch(/enroll-hsm-keepalive \/ enroll-keepalive = \d+\.\d% of the software-key rate, \d+\.\d% per server CPU-second \(issuing key in SoftHSM2, PKCS#11 sessions 2 \(default\)\)/);
}, 180_000);
