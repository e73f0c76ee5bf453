/**
 * A bounded run of the EST fuzzer (src/fuzz, `npm run fuzz` for long runs) against the real server
 * over TLS: mutated CSRs, body encodings, headers, multipart bodies, paths and labels, HTTP syntax
 * errors. Every answer must be a well-formed HTTP answer, < 500 (or 503 with Retry-After, or 501
 * for an operation not offered), errors in text/plain; a good enrollment every 100 inputs and at
 * the end shows the server still serves. The seed is printed; FUZZ_SEED=N replays a run.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countsTable, findingGroups, liftAuthThrottle, runFuzz } from '../../src/fuzz/fuzz-run.js';
import { loadSeeds, type Seed } from '../../src/fuzz/inputs.js';
import { exchange, type Target } from '../../src/fuzz/raw-http.js';
import { makeHome, startServer, type TestServer } from '../helpers/home.js';

let s: TestServer;
let target: Target;
let seeds: Seed[];
let authorization: string;

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : 20261206;

beforeAll(async () => {
  const home = await makeHome();
  liftAuthThrottle(join(home.home, 'estuary.yaml'));
  s = await startServer(home);
  target = { host: '127.0.0.1', port: s.port, ca: s.rootPem };
  seeds = loadSeeds(join(process.cwd(), 'test', 'fuzz', 'corpus'));
  authorization = `Basic ${Buffer.from(`${s.summary.estAccount.email}:${s.summary.estAccount.password}`).toString('base64')}`;
});
afterAll(async () => {
  await s.runtime.close();
});

describe('EST fuzzing (bounded)', () => {
  it(`answers ${600} fuzzed requests well and keeps serving (seed ${SEED})`, async () => {
    const report = await runFuzz({ target, seeds, authorization, seed: SEED, iterations: 600, checkEvery: 100, timeoutMs: 60_000 });
    console.log(`fuzz seed ${SEED}: ${report.iterations} inputs, ${report.aliveChecks} good enrollments\n${countsTable(report)}`);
    for (const g of findingGroups(report)) console.log(`${g.count}x ${g.key} (e.g. iteration ${g.first.iteration}: ${g.first.variant})`);
    expect(report.dead).toBeUndefined();
    expect(report.iterations).toBe(600);
    expect(report.aliveChecks).toBe(8);
    expect(report.findings.map((f) => `iteration ${f.iteration} [${f.cls}: ${f.variant}] ${f.problem}\n  ${f.request}`)).toEqual([]);
  }, 300_000);

  it('answers router refusals in text/plain: a path that is not valid percent-encoding (400), an over-long label (414)', async () => {
    for (const [path, status] of [['/.well-known/est/%zz/cacerts', 400], ['/.well-known/est/%/simpleenroll', 400], [`/.well-known/est/${'x'.repeat(300)}/cacerts`, 414]] as const) {
      const x = await exchange(target, { method: 'GET', path, headers: [], body: Buffer.alloc(0) }, 20_000);
      expect(x.kind).toBe('answer');
      if (x.kind !== 'answer') continue;
      const a = x.answers[0]!;
      expect(a.status, path).toBe(status);
      expect(a.headers.get('content-type')?.[0]).toMatch(/^text\/plain/);
      expect(a.body.toString('utf8')).toMatch(/request path/);
    }
  });
});
