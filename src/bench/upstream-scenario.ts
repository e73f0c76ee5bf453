/**
 * The bench scenario "simpleenroll through an RA in front of an upstream Estuary": a second
 * Estuary home whose default profile issues through an `est` connector (src/ca/connectors/est.ts)
 * to the bench's server, which stays the upstream CA on its own home. The drivers talk to the RA;
 * the RA forwards every CSR upstream over its pool of kept-alive connections (maxConnections,
 * default 8).
 *
 * Pinning: the RA runs on the server's core with the upstream (core 0 on a 2-core machine), the
 * drivers keep the other core(s). The two servers together get the one core the direct scenario's
 * server has, so req/s and req per (RA + upstream) CPU-second compare with direct enrollment on the
 * same budget, and the load generator's core stays clean.
 *
 * Upstream TLS handshakes are counted by the RA's connector itself (its agent counts every
 * connection it opens; it caches no TLS sessions, so each is a full handshake) and logged in the
 * RA's server.log when the connector closes ('upstream CA connector closed', with requests and
 * handshakes). So the RA process is started for each run and stopped after it (SIGTERM): each run's
 * count covers exactly that RA's life. /proc/net/tcp gives a cross-check at the end of the window:
 * the connections open to the upstream's port.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setCaConnector } from '../cli/config-edit.js';
import { initHome, sanityCheck, startServer, type InitJson, type ServerProcess } from './harness.js';

/** The connector's id in the RA's estuary.yaml. */
export const UPSTREAM_CA_ID = 'upstream';

export interface RaHome {
  home: string;
  /** The RA's own TLS root (its EST clients trust the RA, not the upstream). */
  rootPem: string;
  authorization: string;
  upstreamPort: number;
}

export interface RaHomeOptions {
  mainJs: string;
  /** Where the RA's home is made (must not exist). */
  home: string;
  upstreamHome: string;
  upstreamPort: number;
  /** The upstream's `estuary init --json` answer: its EST account becomes the RA's credentials upstream. */
  upstreamInit: InitJson;
  /** The connector's pool size (its default, 8, when not given). */
  maxConnections?: number;
}

/**
 * `estuary init` a home for the RA, add `cas.upstream: { type: est, … }` with the upstream's root as
 * trust anchor and its EST account (HTTP Basic, password in a file), and switch the default profile
 * to it (`estuary profile set default --ca upstream`, through the store).
 */
export function prepareRaHome(o: RaHomeOptions): RaHome {
  const init = initHome(o.mainJs, o.home);
  const dir = join(o.home, 'upstream');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'root.pem'), readFileSync(join(o.upstreamHome, 'ca', 'root.pem')));
  // a key file: the server refuses to start when group or others can read it
  writeFileSync(join(dir, 'ra.password'), o.upstreamInit.estAccount.password, { mode: 0o600 });
  setCaConnector(o.home, UPSTREAM_CA_ID, {
    type: 'est', url: `https://127.0.0.1:${o.upstreamPort}`, trustAnchors: ['upstream/root.pem'],
    auth: { basic: { user: o.upstreamInit.estAccount.email, passwordFile: 'upstream/ra.password' } },
    ...(o.maxConnections !== undefined ? { maxConnections: o.maxConnections } : {}),
  });
  const r = spawnSync(process.execPath, [o.mainJs, 'profile', 'set', 'default', '--ca', UPSTREAM_CA_ID, '--home', o.home], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`estuary profile set default --ca ${UPSTREAM_CA_ID} failed (exit ${r.status}): ${r.stderr || r.stdout}`);
  return {
    home: o.home,
    rootPem: readFileSync(join(o.home, 'ca', 'root.pem'), 'utf8'),
    authorization: 'Basic ' + Buffer.from(`${init.estAccount.email}:${init.estAccount.password}`).toString('base64'),
    upstreamPort: o.upstreamPort,
  };
}

export interface ConnectorCounts {
  requests: number;
  handshakes: number;
}

/** The counts of the last 'upstream CA connector closed' line in a server log after byte `from`. */
export function connectorCounts(logFile: string, from = 0): ConnectorCounts | undefined {
  const text = readFileSync(logFile).subarray(from).toString('utf8');
  let found: ConnectorCounts | undefined;
  for (const line of text.split('\n')) {
    if (!line.includes('upstream CA connector closed')) continue;
    try {
      const entry = JSON.parse(line) as { msg?: string; ca?: string; requests?: unknown; handshakes?: unknown };
      if (entry.msg !== 'upstream CA connector closed' || entry.ca !== UPSTREAM_CA_ID) continue;
      if (typeof entry.requests === 'number' && typeof entry.handshakes === 'number') found = { requests: entry.requests, handshakes: entry.handshakes };
    } catch {
      // not a JSON log line
    }
  }
  return found;
}

/** ESTABLISHED IPv4 TCP connections whose remote port is `port` (the client ends of connections to it), from /proc/net/tcp. */
export function establishedTo(port: number, tcpTable = '/proc/net/tcp'): number {
  let text: string;
  try {
    text = readFileSync(tcpTable, 'utf8');
  } catch {
    return NaN;
  }
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  let n = 0;
  for (const line of text.split('\n').slice(1)) {
    // sl local_address rem_address st ...: "0100007F:20FB 0100007F:1F90 01"
    const [, , remote, state] = line.trim().split(/\s+/);
    if (state === '01' && remote?.endsWith(`:${hex}`)) n++;
  }
  return n;
}

export interface RaRun<T> {
  result: T;
  counts: ConnectorCounts;
  /** How the RA process ended (exit 0 after SIGTERM drains). */
  exit: string;
}

/**
 * Start the RA on `core`, check one enrollment through it over verified TLS, run `measure`, stop
 * it (SIGTERM) and read its connector's counts from its log.
 */
export async function withRa<T>(
  o: { mainJs: string; ra: RaHome; port: number; core: number | undefined; sanityCsr: Buffer; cpuProfDir?: string },
  measure: (ra: ServerProcess) => Promise<T>,
): Promise<RaRun<T>> {
  const logFile = join(o.ra.home, 'server.log');
  const from = existsSync(logFile) ? statSync(logFile).size : 0;
  const ra = await startServer({ mainJs: o.mainJs, home: o.ra.home, port: o.port, core: o.core, ...(o.cpuProfDir ? { cpuProfDir: o.cpuProfDir } : {}) });
  let result: T;
  let exit = '';
  try {
    await sanityCheck(`https://127.0.0.1:${o.port}/.well-known/est`, o.ra.rootPem, o.ra.authorization, o.sanityCsr);
    result = await measure(ra);
  } finally {
    exit = await ra.stop();
  }
  const counts = connectorCounts(logFile, from);
  if (!counts) throw new Error(`the RA (${exit}) did not log 'upstream CA connector closed' with its counts; log ${logFile}`);
  return { result, counts, exit };
}
