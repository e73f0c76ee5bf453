/** The openssl command line for the end-to-end tests: exit code and output, so a test can expect a refusal. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/** Run `openssl args…` in `dir`; resolves to its exit code and stdout + stderr (never rejects on a non-zero exit). */
export async function opensslIn(dir: string, args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)('openssl', args, { cwd: dir, encoding: 'utf8', maxBuffer: 64 << 20 });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}
