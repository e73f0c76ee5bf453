/**
 * Bouncy Castle EST client (test/interop/bc/BcEstClient.java) as an independent interop
 * client: compile it once per test run, then run it as a child process.
 *
 * Needs a JDK (javac + java) and Bouncy Castle's bcprov/bcpkix/bcutil jars, as Debian
 * packages them: default-jdk-headless, libbcprov-java, libbcpkix-java, libbcutil-java, libbctls-java (BCJSSE, for tls-unique).
 * Missing tools or jars make compileBcClient throw; the interop tests must fail, not skip.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BC_JAR_DIR = '/usr/share/java';
export const BC_JARS = ['bcprov.jar', 'bcpkix.jar', 'bcutil.jar', 'bctls.jar'].map((j) => join(BC_JAR_DIR, j));
export const BC_CLIENT_SOURCE = fileURLToPath(new URL('./bc/BcEstClient.java', import.meta.url));
export const BC_RUN_TIMEOUT_MS = 60_000;

const INSTALL_HINT =
  'The Bouncy Castle interop client needs a JDK and the Bouncy Castle jars. On Debian/Ubuntu: ' +
  'apt-get install default-jdk-headless libbcpkix-java libbctls-java ' +
  '(libbcpkix-java pulls in libbcprov-java and libbcutil-java).';

export interface BcResult {
  code: number;
  stdout: string;
  stderr: string;
}

interface ProcResult extends BcResult {
  timedOut: boolean;
}

function runProcess(cmd: string, args: string[], timeoutMs: number): Promise<ProcResult> {
  return new Promise((resolve, reject) => {
    // A synchronous throw from spawn rejects the promise; ENOENT arrives as 'error'.
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const errOut: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => errOut.push(c));
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: code ?? (signal ? 128 : -1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(errOut).toString('utf8'),
        timedOut,
      });
    });
  });
}

function missingToolError(tool: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException)?.code;
  const why = code === 'ENOENT' ? `\`${tool}\` was not found on PATH` : `running \`${tool}\` failed: ${String(err)}`;
  return new Error(`${why}. ${INSTALL_HINT}`);
}

function checkJars(): void {
  const missing = BC_JARS.filter((j) => !existsSync(j));
  if (missing.length > 0) {
    throw new Error(`Bouncy Castle jar(s) missing: ${missing.join(', ')}. ${INSTALL_HINT}`);
  }
}

function classpath(classDir: string): string {
  return [classDir, ...BC_JARS].join(':');
}

/** Compiles BcEstClient.java into outDir. Throws (never skips) if javac or the jars are missing. */
export async function compileBcClient(outDir: string): Promise<void> {
  checkJars();
  if (!existsSync(BC_CLIENT_SOURCE)) {
    throw new Error(`BcEstClient source not found at ${BC_CLIENT_SOURCE}`);
  }
  mkdirSync(outDir, { recursive: true });
  let res: ProcResult;
  try {
    res = await runProcess(
      'javac',
      ['-encoding', 'UTF-8', '-nowarn', '-cp', BC_JARS.join(':'), '-d', outDir, BC_CLIENT_SOURCE],
      120_000,
    );
  } catch (err) {
    throw missingToolError('javac', err);
  }
  if (res.timedOut) {
    throw new Error(`javac timed out compiling ${BC_CLIENT_SOURCE}`);
  }
  if (res.code !== 0) {
    throw new Error(
      `javac failed (exit ${res.code}) compiling ${BC_CLIENT_SOURCE}:\n${res.stderr}${res.stdout}\n` +
        `If org.bouncycastle.est cannot be found, the jars are too old or incomplete. ${INSTALL_HINT}`,
    );
  }
  if (!existsSync(join(outDir, 'BcEstClient.class'))) {
    throw new Error(`javac reported success but ${join(outDir, 'BcEstClient.class')} is missing`);
  }
}

/**
 * Runs `java -cp classDir:bcprov.jar:bcpkix.jar:bcutil.jar BcEstClient ...args`.
 * Resolves with the exit code and output (0 ok, 2 failure, 3 still pending after 202,
 * 64 usage error); rejects if java is missing or the run exceeds 60 s.
 */
export async function runBc(classDir: string, args: string[]): Promise<BcResult> {
  checkJars();
  let res: ProcResult;
  try {
    res = await runProcess('java', ['-cp', classpath(classDir), 'BcEstClient', ...args], BC_RUN_TIMEOUT_MS);
  } catch (err) {
    throw missingToolError('java', err);
  }
  if (res.timedOut) {
    throw new Error(
      `BcEstClient ${args.join(' ')} timed out after ${BC_RUN_TIMEOUT_MS} ms\n` +
        `stdout:\n${res.stdout}\nstderr:\n${res.stderr}`,
    );
  }
  return { code: res.code, stdout: res.stdout, stderr: res.stderr };
}
