/**
 * `npm run bench -- --workers 1,2`: the direct scenarios against `estuary serve --workers N` as well
 * as the one-process server. Each N > 1 is a server of its own on the bench's home, started once,
 * pinned to cores 0..N-1 (its workers inherit the affinity; on a machine with no spare core the
 * drivers share them). Its CPU is that of its whole process tree (process-tree.ts).
 */
import { freePort, sanityCheck, startServer, type ServerProcess } from './harness.js';

export interface WorkersServer {
  server: ServerProcess;
  port: number;
  /** The cores it is pinned to; undefined without taskset. */
  cores: number[] | undefined;
}

export interface WorkersServersOptions {
  mainJs: string;
  home: string;
  /** The --workers list: a server is started for each N above 1. */
  workers: number[];
  cores: number;
  taskset: boolean;
  /** The drivers' cores, to say when they are shared. */
  loadCores: number[];
  cpuProf: string | undefined;
  rootPem: string;
  authorization: string;
  sanityCsr: Buffer;
  log: (line: string) => void;
}

/** Start them one after another into `into` (so that a failure leaves the started ones for the caller to stop). */
export async function startWorkersServers(o: WorkersServersOptions, into: Map<number, WorkersServer>): Promise<void> {
  for (const n of o.workers.filter((w) => w > 1)) {
    const cores = o.taskset ? Array.from({ length: Math.min(n, o.cores) }, (_, i) => i) : undefined;
    const port = await freePort();
    const server = await startServer({ mainJs: o.mainJs, home: o.home, port, core: cores, workers: n, cpuProfDir: o.cpuProf });
    into.set(n, { server, port, cores });
    const base = `https://127.0.0.1:${port}/.well-known/est`;
    o.log(`server --workers ${n}: primary pid ${server.pid} on ${base} (${cores ? `taskset -c ${cores.join(',')}` : 'not pinned'}` +
      `${cores && cores.some((c) => o.loadCores.includes(c)) ? ', shared with the drivers' : ''})`);
    o.log(await sanityCheck(base, o.rootPem, o.authorization, o.sanityCsr));
  }
}
