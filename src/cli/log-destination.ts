/**
 * The server's log destination: standard output, written asynchronously in chunks.
 *
 * Lines are gathered for up to GATHER_MS (or until CHUNK_BYTES) and handed to one asynchronous
 * write. A write per line woke a thread-pool thread for every issuance, which over new TLS
 * connections cost about 4% of the server's core. Gathered lines are written when the chunk is
 * full, when the timer fires, on logger.flush(), and synchronously when the process exits, so
 * only a process killed outright (SIGKILL) can lose the last GATHER_MS of lines.
 */
import { writeSync } from 'node:fs';
import { destination as pinoDestination } from 'pino';

const GATHER_MS = 100;
const CHUNK_BYTES = 16 * 1024;
const FLUSH_WAIT_MS = 1000;

export interface LogDestination {
  write(line: string): void;
  flush(cb?: (err?: Error) => void): void;
}

export function gatheredStdout(fd = 1): LogDestination {
  // Created first, so pino's own exit handler (which flushes it) runs before ours below.
  const out = pinoDestination({ dest: fd, sync: false });
  let gathered = '';
  let timer: NodeJS.Timeout | undefined;
  /** Bytes handed to `out` and not yet written, and flush callbacks waiting for them. */
  let unwritten = 0;
  let flushed: Array<() => void> = [];
  const callBack = (): void => {
    const waiting = flushed;
    flushed = [];
    for (const cb of waiting) cb();
  };
  out.on('write', (n: number) => {
    unwritten -= n;
    if (unwritten <= 0) callBack();
  });

  const release = (): void => {
    clearTimeout(timer);
    timer = undefined;
    if (gathered === '') return;
    unwritten += Buffer.byteLength(gathered);
    out.write(gathered);
    gathered = '';
  };
  process.once('exit', () => {
    clearTimeout(timer);
    if (gathered !== '') writeSync(fd, gathered);
    gathered = '';
  });

  return {
    write(line: string): void {
      gathered += line;
      if (gathered.length >= CHUNK_BYTES) release();
      else if (!timer) timer = setTimeout(release, GATHER_MS).unref();
    },
    /**
     * Hands the gathered lines over and calls back once everything handed over is written, or
     * after FLUSH_WAIT_MS if standard output is stuck (a shutdown must not hang on its log).
     */
    flush(cb?: (err?: Error) => void): void {
      release();
      if (!cb) return;
      if (unwritten <= 0) return cb();
      flushed.push(() => cb());
      setTimeout(callBack, FLUSH_WAIT_MS).unref();
    },
  };
}
