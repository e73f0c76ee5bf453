/** The renew agent's post-renew command (e.g. reload a web server), run with sh -c. */
import { spawn } from 'node:child_process';

export interface HookResult {
  command: string;
  ok: boolean;
  /** null when the command did not exit by itself (killed, or could not start). */
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** The last few KiB of what it wrote to stdout and stderr, interleaved. */
  output: string;
  durationMs: number;
}

export interface HookOptions {
  cwd: string;
  env: Record<string, string>;
  timeoutMs: number;
}

const OUTPUT_LIMIT = 4096;

/**
 * Run `command` with /bin/sh -c in its own process group, so that a timeout ends the command and
 * whatever it started (not only the shell). Never rejects: the result says what happened.
 */
export function runHook(command: string, o: HookOptions): Promise<HookResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    let output = '';
    let timedOut = false;
    let settled = false;
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-OUTPUT_LIMIT);
    };
    const child = spawn('/bin/sh', ['-c', command], { cwd: o.cwd, env: { ...process.env, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const finish = (exitCode: number | null, signal: string | null, extra = ''): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve({ command, ok: exitCode === 0 && !timedOut, exitCode, signal, timedOut, output: (output + extra).slice(-OUTPUT_LIMIT), durationMs: Date.now() - started });
    };
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL'); // the group of the child we started
      } catch {
        // already gone
      }
    }, o.timeoutMs);
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.on('error', (err) => finish(null, null, `cannot run the command: ${err.message}`));
    // 'close' once the pipes are drained; but a background process the command left behind may
    // hold them open, so after 'exit' wait only a moment for the rest of the output.
    child.on('close', (code, signal) => finish(code, signal));
    child.on('exit', (code, signal) => setTimeout(() => finish(code, signal), 200).unref());
  });
}
