/**
 * The server's log destination: standard output, written asynchronously in chunks.
 *
 * Lines are gathered for up to GATHER_MS (or until CHUNK_BYTES) and handed to one asynchronous
 * write. A write per line woke a thread-pool thread for every issuance, which over new TLS
 * connections cost about 4% of the server's core. Gathered lines are written when the chunk is
 * full, when the timer fires, on logger.flush(), and synchronously when the process exits, so
 * only a process killed outright (SIGKILL) can lose the last GATHER_MS of lines.
 */
import { write, writeSync } from 'node:fs';
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

/** Linux's PIPE_BUF: a write of at most this many bytes to a pipe is never interleaved with another's. */
export const PIPE_BUF = 4096;

/**
 * For processes sharing one standard output (`serve --workers N`): the same gathering, but every
 * write holds whole lines and at most `atomicBytes` (PIPE_BUF), and one write is in flight at a
 * time, so that lines of different processes never interleave on a pipe (journald, `| tee`).
 * Gathered 16 KiB chunks through pino's destination broke about 2% of the lines with four writers
 * and a slow reader. A single line longer than `atomicBytes` is still written whole, in one write.
 */
export function atomicGatheredStdout(fd = 1, atomicBytes = PIPE_BUF): LogDestination {
  let gathered = '';
  let gatheredBytes = 0;
  let timer: NodeJS.Timeout | undefined;
  const queue: Buffer[] = [];
  let writing = false;
  let flushed: Array<() => void> = [];
  const callBack = (): void => {
    const waiting = flushed;
    flushed = [];
    for (const cb of waiting) cb();
  };
  const pump = (): void => {
    if (writing) return;
    const chunk = queue.shift();
    if (!chunk) return callBack();
    writing = true;
    const attempt = (offset: number): void => {
      write(fd, chunk, offset, chunk.length - offset, null, (err, n) => {
        // EAGAIN: a non-blocking pipe is full; the reader will make room
        if (err && (err as NodeJS.ErrnoException).code === 'EAGAIN') return void setTimeout(() => attempt(offset), 5);
        if (!err && offset + n < chunk.length) return attempt(offset + n);
        writing = false; // written, or lost to an error nobody can report (stdout is the log)
        pump();
      });
    };
    attempt(0);
  };
  const release = (): void => {
    clearTimeout(timer);
    timer = undefined;
    if (gathered === '') return;
    queue.push(Buffer.from(gathered));
    gathered = '';
    gatheredBytes = 0;
    pump();
  };
  process.once('exit', () => {
    clearTimeout(timer);
    const rest = [...queue, Buffer.from(gathered)].filter((c) => c.length > 0);
    queue.length = 0;
    gathered = '';
    try {
      for (const chunk of rest) writeSync(fd, chunk); // chunk by chunk: each stays one atomic write
    } catch {
      // a full non-blocking pipe at exit: the lines left are lost
    }
  });
  return {
    write(line: string): void {
      const bytes = Buffer.byteLength(line);
      if (gatheredBytes > 0 && gatheredBytes + bytes > atomicBytes) release();
      gathered += line;
      gatheredBytes += bytes;
      if (gatheredBytes >= atomicBytes) release();
      else if (!timer) timer = setTimeout(release, GATHER_MS).unref();
    },
    flush(cb?: (err?: Error) => void): void {
      release();
      if (!cb) return;
      if (!writing && queue.length === 0) return cb();
      flushed.push(() => cb());
      setTimeout(callBack, FLUSH_WAIT_MS).unref();
    },
  };
}
