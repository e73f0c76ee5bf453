/**
 * The built `estuary` command (dist/cli/main.js) in child processes, as users run it. Always
 * asynchronous: tests that host a server in this process would block it with a synchronous call.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const MAIN = join(process.cwd(), 'dist', 'cli', 'main.js');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Added to this process's environment. */
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** `estuary ARGS`: its exit code and output, whether it succeeded or not. */
export async function estuary(args: string[], o: CliOptions = {}): Promise<CliRun> {
  try {
    const { stdout, stderr } = await promisify(execFile)('node', [MAIN, ...args], {
      env: { ...process.env, ...o.env }, encoding: 'utf8', ...(o.timeoutMs ? { timeout: o.timeoutMs } : {}),
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** `estuary client ARGS`, with no password from the environment unless `o.env` gives one. */
export function estuaryClient(args: string[], o: CliOptions = {}): Promise<CliRun> {
  return estuary(['client', ...args], { ...o, env: { ESTUARY_PASSWORD: '', ...o.env } });
}
