/**
 * `npm run bench -- --compare DIR`: the direct scenarios also run against the server of another
 * build (DIR holds its `dist/cli/main.js`, e.g. an older commit built elsewhere), alternating with
 * this build's server inside every run, so that both rows come from the same machine state. That
 * build gets a home of its own, made by its own `init` (its schema and config are its own), and its
 * server is pinned like this build's. Its rows are labelled `X (compare)`.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort, initHome, sanityCheck, startServer, type ServerProcess } from './harness.js';

export const COMPARE_SUFFIX = ' (compare)';

export interface CompareServer {
  /** The other build's root, as given. */
  dir: string;
  server: ServerProcess;
  port: number;
  authorization: string;
  rootPem: string;
}

/** `DIR/dist/cli/main.js`, or a clear error when DIR holds no build. */
export function compareMainJs(dir: string): string {
  const mainJs = join(resolve(dir), 'dist', 'cli', 'main.js');
  if (!existsSync(mainJs)) throw new Error(`--compare: ${mainJs} not found (build that tree first: npm run build)`);
  return mainJs;
}

export function compareLabel(name: string, compare: boolean): string {
  return compare ? name + COMPARE_SUFFIX : name;
}

export interface CompareServerOptions {
  dir: string;
  home: string;
  core: number | undefined;
  cpuProf: string | undefined;
  sanityCsr: Buffer;
  readRootPem: (home: string) => string;
  log: (line: string) => void;
}

export async function startCompareServer(o: CompareServerOptions): Promise<CompareServer> {
  const mainJs = compareMainJs(o.dir);
  const init = initHome(mainJs, o.home);
  const rootPem = o.readRootPem(o.home);
  const authorization = 'Basic ' + Buffer.from(`${init.estAccount.email}:${init.estAccount.password}`).toString('base64');
  const port = await freePort();
  const server = await startServer({ mainJs, home: o.home, port, core: o.core, ...(o.cpuProf ? { cpuProfDir: o.cpuProf } : {}) });
  const base = `https://127.0.0.1:${port}/.well-known/est`;
  o.log(`compare server (${mainJs}): pid ${server.pid} on ${base}`);
  o.log(await sanityCheck(base, rootPem, authorization, o.sanityCsr));
  return { dir: o.dir, server, port, authorization, rootPem };
}

export interface CompareRow {
  scenario: string;
  /** This build ÷ the other, in percent: the medians of the runs. */
  ratePercent: number;
  perServerCpuPercent: number;
  /** This build ÷ the other, run by run (each pair measured back to back), in percent. */
  perServerCpuPercentByRun: number[];
}

interface Rates { requestsPerSecond: number; requestsPerServerCpuSecond: number }

/** Every `X (compare)` against X: `summaries` hold the medians, `runs` every run's figures by label. */
export function compareRows(summaries: (Rates & { scenario: string })[], runs: Map<string, Rates[]>): CompareRow[] {
  return summaries.flatMap((other) => {
    if (!other.scenario.endsWith(COMPARE_SUFFIX)) return [];
    const name = other.scenario.slice(0, -COMPARE_SUFFIX.length);
    const self = summaries.find((s) => s.scenario === name);
    if (!self) return [];
    const a = runs.get(name) ?? [];
    const b = runs.get(other.scenario) ?? [];
    return [{
      scenario: name,
      ratePercent: (100 * self.requestsPerSecond) / other.requestsPerSecond,
      perServerCpuPercent: (100 * self.requestsPerServerCpuSecond) / other.requestsPerServerCpuSecond,
      perServerCpuPercentByRun: a.slice(0, b.length).map((m, i) => (100 * m.requestsPerServerCpuSecond) / b[i]!.requestsPerServerCpuSecond),
    }];
  });
}

export function compareText(dir: string, rows: CompareRow[]): string[] {
  if (rows.length === 0) return [];
  const pct = (n: number): string => `${n.toFixed(1)}%`;
  return ['', `"(compare)": the same scenario against the build in ${dir}, alternating with this build in every run; this build / that build:`,
    ...rows.map((r) => `${r.scenario}: ${pct(r.ratePercent)} of its req/s, ${pct(r.perServerCpuPercent)} of its req per server CPU-second ` +
      `(×${(r.perServerCpuPercent / 100).toFixed(2)}; run by run: ${r.perServerCpuPercentByRun.map(pct).join(', ')})`)];
}
