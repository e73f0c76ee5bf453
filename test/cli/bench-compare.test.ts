/**
 * `npm run bench -- --compare DIR` (src/bench/compare-scenario.ts), as it is run: dist/bench/bench.js
 * starts this build's server and the one in DIR (here this same tree, a real second build root), each
 * on a home made by its own init, and alternates the direct scenario between them in every run.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { compareRows } from '../../src/bench/compare-scenario.js';

const BENCH = join(process.cwd(), 'dist', 'bench', 'bench.js');

interface Report {
  serverExit: string;
  scenarios: { scenario: string; description: string; errors: number; requestsPerSecond: number; requestsPerServerCpuSecond: number; runs: { ok: number }[] }[];
  compare?: { dir: string; thisOverThat: { scenario: string; ratePercent: number; perServerCpuPercent: number; perServerCpuPercentByRun: number[] }[] };
}

it('alternates each direct scenario with the other build\'s server and reports this build / that build', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [
    BENCH, '--scenarios', 'enroll-keepalive', '--runs', '2', '--duration', '1', '--warmup', '0.5', '--concurrency', '4', '--compare', process.cwd(), '--json',
  ], { encoding: 'utf8', timeout: 170_000, maxBuffer: 64 * 1024 * 1024 });
  const report = JSON.parse(stdout) as Report;
  expect(report.serverExit).toBe('exit 0');
  expect(report.scenarios.map((s) => s.scenario)).toEqual(['enroll-keepalive', 'enroll-keepalive (compare)']);
  for (const s of report.scenarios) {
    expect(s.errors, s.scenario).toBe(0);
    expect(s.runs, s.scenario).toHaveLength(2);
    for (const r of s.runs) expect(r.ok, s.scenario).toBeGreaterThan(0);
  }
  expect(report.scenarios[1]!.description).toContain(process.cwd());
  const [row] = report.compare!.thisOverThat;
  expect(row!.scenario).toBe('enroll-keepalive');
  expect(row!.perServerCpuPercentByRun).toHaveLength(2);
  expect(row!.ratePercent).toBeGreaterThan(0);
  expect(row!.perServerCpuPercent).toBeGreaterThan(0);
}, 180_000);

it('refuses a directory that holds no build, before starting anything', async () => {
  const empty = mkdtempSync(join(tmpdir(), 'estuary-compare-'));
  try {
    const run = promisify(execFile)(process.execPath, [BENCH, '--compare', empty], { encoding: 'utf8', timeout: 30_000 });
    await expect(run).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining(`--compare: ${join(empty, 'dist', 'cli', 'main.js')} not found`) });
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

it('divides this build by the other, medians and run by run', () => {
  const rates = (rps: number, perCpu: number) => ({ requestsPerSecond: rps, requestsPerServerCpuSecond: perCpu });
  const rows = compareRows(
    [{ scenario: 'enroll-keepalive', ...rates(900, 3000) }, { scenario: 'enroll-keepalive (compare)', ...rates(600, 2000) }, { scenario: 'cacerts-keepalive', ...rates(1, 1) }],
    new Map([
      ['enroll-keepalive', [rates(900, 3000), rates(800, 2400)]],
      ['enroll-keepalive (compare)', [rates(600, 2000), rates(700, 3000)]],
    ]),
  );
  expect(rows).toEqual([{ scenario: 'enroll-keepalive', ratePercent: 150, perServerCpuPercent: 150, perServerCpuPercentByRun: [150, 80] }]);
});
