/**
 * The fuzz loop: inputs from every class against a live EST server over TLS, each answer judged
 * (a well-formed HTTP answer; status < 500 except 503 with Retry-After; errors in text/plain with
 * a reason), a good enrollment every `checkEvery` iterations and at the end to show the server
 * still serves. Counts by class and answer, and the findings with how to reproduce them.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { decodeBase64Body } from '../pki/base64.js';
import { parseCertsOnly } from '../pki/signed-data.js';
import { base64Lines, INPUT_CLASSES, makeInput, type FuzzInput, type InputClass, type InputContext, type Seed } from './inputs.js';
import { rngFor } from './prng.js';
import { exchange, type Exchange, type HttpAnswer, type Target } from './raw-http.js';

export interface FuzzOptions {
  target: Target;
  seeds: readonly Seed[];
  authorization: string;
  seed: number;
  iterations: number;
  /** First iteration number (to reproduce one input: from = I, iterations = 1). */
  from?: number;
  classes?: readonly InputClass[];
  /** A good enrollment every this many iterations (default 100). */
  checkEvery?: number;
  timeoutMs?: number;
  /** Stop at the first finding. */
  stopOnFinding?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface Finding {
  iteration: number;
  cls: InputClass;
  variant: string;
  problem: string;
  request: string;
}

export interface FuzzReport {
  seed: number;
  iterations: number;
  /** class → answer ("400", "hang", "malformed", …) → count */
  counts: Record<string, Record<string, number>>;
  /** class + variant → count, for the distribution of what was tried */
  variants: Record<string, number>;
  findings: Finding[];
  aliveChecks: number;
  /** Set when a good enrollment failed: the server stopped serving. */
  dead?: string;
}

const PREFIX = '/.well-known/est';

function header(a: HttpAnswer, name: string): string | undefined {
  return a.headers.get(name)?.join(', ');
}

/** What is wrong with the answer to `input`, or undefined when it is acceptable. */
export function judge(input: FuzzInput, x: Exchange): string | undefined {
  switch (x.kind) {
    case 'hang': return `no answer within ${x.seconds} s`;
    case 'no-answer': return `the connection ended without an answer (${x.reason})`;
    case 'malformed': return `malformed HTTP answer: ${x.reason}`;
    case 'answer': break;
  }
  for (const a of x.answers) {
    // 501: an EST operation this server does not offer (fullcmc, RFC 7030 §4.3), said in text/plain.
    if (a.status >= 500 && a.status !== 501 && !(a.status === 503 && header(a, 'retry-after'))) return `status ${a.status}: ${a.body.toString('utf8').slice(0, 200)}`;
    if (a.status >= 400) {
      const type = header(a, 'content-type') ?? '';
      if (!/^text\/plain\b/i.test(type)) return `status ${a.status} with Content-Type ${JSON.stringify(type)}: ${a.body.toString('utf8').slice(0, 120)}`;
      // A bare 401 challenge (no credentials were sent) has its reason in X-EST-Reason instead (Bouncy Castle interop).
      const bareChallenge = a.status === 401 && header(a, 'www-authenticate');
      if (a.body.length === 0 && input.request.method !== 'HEAD' && !bareChallenge) return `status ${a.status} with an empty body`;
    }
    if (a.status === 202 && !header(a, 'retry-after')) return '202 without Retry-After (RFC 7030 §4.2.3)';
    if (a.status === 200 && input.request.method === 'POST' && /\/serverkeygen$/.test(input.request.path)) {
      const boundary = /boundary="?([^";]+)"?/i.exec(header(a, 'content-type') ?? '')?.[1];
      if (!boundary) return `serverkeygen 200 without a multipart boundary (${header(a, 'content-type')})`;
      if (!a.body.includes(`--${boundary}--`)) return 'serverkeygen 200: the multipart body has no closing boundary';
    } else if (a.status === 200 && input.request.method === 'POST' && /\/simple(re)?enroll$/.test(input.request.path)) {
      if (!/^application\/pkcs7-mime\b/i.test(header(a, 'content-type') ?? '')) return `enroll 200 with Content-Type ${header(a, 'content-type')}`;
    }
  }
  return undefined;
}

function outcomeOf(x: Exchange): string {
  return x.kind === 'answer' ? x.answers.map((a) => String(a.status)).join('+') : x.kind;
}

function describeRequest(input: FuzzInput): string {
  const r = input.request;
  if (r.raw) return JSON.stringify(r.raw.toString('latin1').slice(0, 300));
  const body = r.body.length > 120 ? `${r.body.subarray(0, 120).toString('latin1')}…(${r.body.length} bytes)` : r.body.toString('latin1');
  return `${r.method} ${r.path.slice(0, 200)} ${JSON.stringify(r.headers.map(([n, v]) => `${n}: ${v.length > 80 ? `${v.slice(0, 80)}…` : v}`))} body ${JSON.stringify(body)}`;
}

/** A request the server must answer with a certificate. */
export async function goodEnroll(target: Target, seeds: readonly Seed[], authorization: string, timeoutMs = 30_000): Promise<string | undefined> {
  const seed = seeds[0]!;
  const x = await exchange(target, { method: 'POST', path: `${PREFIX}/simpleenroll`, headers: [['Authorization', authorization], ['Content-Type', 'application/pkcs10']], body: Buffer.from(base64Lines(seed.der)) }, timeoutMs);
  if (x.kind !== 'answer') return `good simpleenroll: ${x.kind}${'reason' in x ? ` (${x.reason})` : ''}`;
  const a = x.answers[0]!;
  if (a.status !== 200) return `good simpleenroll answered ${a.status}: ${a.body.toString('utf8').slice(0, 200)}`;
  try {
    if (parseCertsOnly(decodeBase64Body(a.body)).length === 0) return 'good simpleenroll: no certificate in the answer';
  } catch (err) {
    return `good simpleenroll: unreadable answer: ${(err as Error).message}`;
  }
  return undefined;
}

export async function runFuzz(o: FuzzOptions): Promise<FuzzReport> {
  const classes = o.classes ?? INPUT_CLASSES;
  const ctx: InputContext = { seeds: o.seeds, authorization: o.authorization, prefix: PREFIX };
  const checkEvery = o.checkEvery ?? 100;
  const timeoutMs = o.timeoutMs ?? 30_000;
  const report: FuzzReport = { seed: o.seed, iterations: 0, counts: {}, variants: {}, findings: [], aliveChecks: 0 };
  const from = o.from ?? 0;
  const alive = async (): Promise<boolean> => {
    report.aliveChecks++;
    const problem = await goodEnroll(o.target, o.seeds, o.authorization);
    if (problem) report.dead = problem;
    return !problem;
  };
  if (!(await alive())) return report;
  for (let i = from; i < from + o.iterations; i++) {
    const rng = rngFor(o.seed, i);
    const cls = classes[rng.int(classes.length)]!;
    const input = makeInput(cls, ctx, rng);
    const x = await exchange(o.target, input.request, timeoutMs);
    report.iterations++;
    const outcome = outcomeOf(x);
    const byClass = (report.counts[cls] ??= {});
    byClass[outcome] = (byClass[outcome] ?? 0) + 1;
    const v = `${cls}: ${input.variant}`;
    report.variants[v] = (report.variants[v] ?? 0) + 1;
    const problem = judge(input, x);
    if (problem) {
      report.findings.push({ iteration: i, cls, variant: input.variant, problem, request: describeRequest(input) });
      if (o.stopOnFinding) break;
    }
    o.onProgress?.(report.iterations, o.iterations);
    if ((i - from + 1) % checkEvery === 0 && !(await alive())) return report;
  }
  await alive();
  return report;
}

/** Findings grouped by class and kind of problem: count, the variants that led there, one iteration to replay. */
export function findingGroups(report: FuzzReport): { key: string; count: number; variants: string[]; first: Finding }[] {
  const groups = new Map<string, { key: string; count: number; variants: Set<string>; first: Finding }>();
  for (const f of report.findings) {
    const key = `${f.cls} | ${f.problem.split(': ')[0]}`;
    const g = groups.get(key) ?? { key, count: 0, variants: new Set<string>(), first: f };
    g.count++;
    g.variants.add(f.variant);
    groups.set(key, g);
  }
  return [...groups.values()].sort((a, b) => b.count - a.count).map((g) => ({ ...g, variants: [...g.variants] }));
}

/** The counts as a text table: one row per class, one column per answer. */
export function countsTable(report: FuzzReport): string {
  const classes = Object.keys(report.counts).sort();
  const outcomes = [...new Set(classes.flatMap((c) => Object.keys(report.counts[c]!)))].sort();
  const rows = [['class', 'tried', ...outcomes], ...classes.map((c) => {
    const row = report.counts[c]!;
    return [c, String(Object.values(row).reduce((a, b) => a + b, 0)), ...outcomes.map((k) => String(row[k] ?? 0))];
  })];
  const total = ['total', String(report.iterations), ...outcomes.map((k) => String(classes.reduce((a, c) => a + (report.counts[c]![k] ?? 0), 0)))];
  rows.push(total);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')).join('\n');
}

export { INPUT_CLASSES };
export type { InputClass };

/**
 * The fuzzer probes how inputs are answered, not the HTTP Basic lockout (tested on its own): its
 * garbage Authorization headers would otherwise lock its own address out and stop the liveness
 * checks. Rewrites the home's estuary.yaml before the server starts.
 */
export function liftAuthThrottle(configFile: string): void {
  const text = readFileSync(configFile, 'utf8').replace(/(\n    maxFailuresPer(?:Account|Address): )\d+/g, (_m, head: string) => `${head}1000000`);
  writeFileSync(configFile, text);
}
