#!/usr/bin/env node
/**
 * `npm run fuzz -- [--iterations N] [--seed N] ...`: the EST server (the built `estuary serve`, a
 * child process on a fresh home) fuzzed over TLS with mutated CSRs, bodies, headers, multipart
 * bodies, paths and HTTP syntax (src/fuzz/inputs.ts). Prints the seed, the counts by input class
 * and answer, and every finding with the iteration that reproduces it; exits 1 on a finding.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, initHome, startServer, type ServerProcess } from '../bench/harness.js';
import { liftAuthThrottle } from './fuzz-run.js';
import { loadSeeds } from './inputs.js';
import { countsTable, findingGroups, INPUT_CLASSES, runFuzz, type InputClass } from './fuzz-run.js';
import { freshSeed } from './prng.js';

const USAGE = `usage: npm run fuzz -- [options]
  --iterations N    inputs to send (default 2000)
  --seed N          PRNG seed (default: a fresh one, printed); the same seed replays the same inputs
  --from I          first iteration (with --iterations 1: replay one input of a run)
  --classes LIST    comma-separated input classes (default all): ${INPUT_CLASSES.join(', ')}
  --corpus DIR      seed CSRs (default test/fuzz/corpus)
  --check-every N   a good enrollment every N inputs (default 100)
  --stop            stop at the first finding
  --keep-home       keep the server's home directory (its log is server.log)`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      iterations: { type: 'string', default: '2000' }, seed: { type: 'string' }, from: { type: 'string', default: '0' }, classes: { type: 'string' },
      corpus: { type: 'string' }, 'check-every': { type: 'string', default: '100' }, stop: { type: 'boolean' }, 'keep-home': { type: 'boolean' }, help: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const int = (name: string, text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name}: expected a non-negative integer, got "${text}"`);
    return n;
  };
  const classes = (values.classes?.split(',').map((c) => c.trim()) ?? [...INPUT_CLASSES]) as InputClass[];
  const unknown = classes.filter((c) => !(INPUT_CLASSES as readonly string[]).includes(c));
  if (unknown.length > 0) throw new Error(`--classes: unknown ${unknown.join(', ')} (known: ${INPUT_CLASSES.join(', ')})`);
  const seed = values.seed !== undefined ? int('seed', values.seed) : freshSeed();
  const iterations = int('iterations', values.iterations);
  const self = fileURLToPath(import.meta.url);
  const mainJs = join(dirname(self), '..', 'cli', 'main.js');
  const corpus = resolve(values.corpus ?? join(dirname(self), '..', '..', 'test', 'fuzz', 'corpus'));
  const seeds = loadSeeds(corpus);
  process.stdout.write(`fuzz seed ${seed} (replay: npm run fuzz -- --seed ${seed} --iterations ${iterations}); ${seeds.length} seed CSRs from ${corpus}\n`);

  const home = join(mkdtempSync(join(tmpdir(), 'estuary-fuzz-')), 'home');
  const init = initHome(mainJs, home);
  liftAuthThrottle(join(home, 'estuary.yaml'));
  const port = await freePort();
  let server: ServerProcess | undefined;
  try {
    server = await startServer({ mainJs, home, port, core: undefined });
    const started = Date.now();
    let lastShown = 0;
    const report = await runFuzz({
      target: { host: '127.0.0.1', port, ca: readFileSync(join(home, 'ca', 'root.pem'), 'utf8') },
      seeds,
      authorization: `Basic ${Buffer.from(`${init.estAccount.email}:${init.estAccount.password}`).toString('base64')}`,
      seed,
      iterations,
      from: int('from', values.from),
      classes,
      checkEvery: Math.max(1, int('check-every', values['check-every'])),
      stopOnFinding: Boolean(values.stop),
      onProgress: (done, total) => {
        if (Date.now() - lastShown > 5000) {
          lastShown = Date.now();
          process.stderr.write(`  ${done}/${total} inputs, ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
        }
      },
    });
    const seconds = (Date.now() - started) / 1000;
    process.stdout.write(`\n${report.iterations} inputs in ${seconds.toFixed(1)} s (${(report.iterations / seconds).toFixed(0)}/s), seed ${seed}; ${report.aliveChecks} good enrollments checked\n\n`);
    process.stdout.write(`answers by input class (status codes; hang, no-answer, malformed are findings):\n${countsTable(report)}\n\n`);
    const exitState = server.child.exitCode !== null || server.child.signalCode !== null ? `the server process ended (${server.child.exitCode ?? server.child.signalCode})` : undefined;
    if (report.dead || exitState) process.stdout.write(`SERVER STOPPED SERVING: ${report.dead ?? exitState}\n`);
    for (const g of findingGroups(report)) {
      const f = g.first;
      process.stdout.write(`FINDINGS ${g.count}x [${g.key}] variants: ${g.variants.slice(0, 6).join('; ')}${g.variants.length > 6 ? '; …' : ''}\n`);
      process.stdout.write(`  e.g. iteration ${f.iteration}: ${f.problem}\n  request: ${f.request}\n  replay: npm run fuzz -- --seed ${seed} --from ${f.iteration} --iterations 1 --classes ${values.classes ?? INPUT_CLASSES.join(',')}\n`);
    }
    if (report.findings.length === 0 && !report.dead && !exitState) process.stdout.write('no findings: every answer was well-formed, < 500 (or 503 with Retry-After), errors in text/plain\n');
    return report.findings.length > 0 || report.dead || exitState ? 1 : 0;
  } finally {
    await server?.stop();
    if (!values['keep-home']) rmSync(dirname(home), { recursive: true, force: true });
    else process.stdout.write(`server home kept: ${home}\n`);
  }
}

main().then((code) => {
  process.exitCode = code;
}, (err: unknown) => {
  process.stderr.write(`fuzz: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 2;
});
