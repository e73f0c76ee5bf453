/**
 * The bench's native load engine (native/load-driver/load-driver.cc as estuary_load.node, built by
 * `npm run build:load`, which `npm run bench` and `npm test` run when it is missing; npm ci does not): `concurrency` closed-loop clients on one epoll thread that make a
 * FULL TLS handshake for every new connection (no session cache, no tickets, never a resumed
 * session) for ~0.4 ms of CPU each, where Node's https client spends 1 ms or more, so that one
 * driver core can load the server with new connections. The addon blocks its thread for the whole
 * run: it is for driver processes only.
 *
 * `ESTUARY_LOAD_LEGACY_EC=off` turns off the addon's legacy EC key decoding (OpenSSL 3.0's
 * provider decoders cost ~0.1 ms per certificate; see native/load-driver/load-driver.cc), for A/B checks.
 */
import { createRequire } from 'node:module';
import type { RunResult, RunSpec } from './driver.js';

/** The addon's spec (see the header of native/load-driver/load-driver.cc). */
export interface NativeLoadSpec {
  host: string;
  port: number;
  /** Complete HTTP/1.1 requests, used round robin starting at `offset`. */
  request: Buffer[];
  offset: number;
  keepAlive: boolean;
  concurrency: number;
  measureStart: number;
  measureEnd: number;
  caPem?: string;
  /** Decode EC keys of received certificates with OpenSSL's built-in method, not its decoders (default true). */
  legacyEcDecode?: boolean;
}

export interface NativeRunResult extends RunResult {
  /** New connections whose handshake resumed a TLS session: always 0 (every handshake is full). */
  resumed: number;
  /** TLS handshakes completed (new connections), whole run. */
  handshakes: number;
}

interface Addon {
  runLoad(spec: NativeLoadSpec): NativeRunResult;
}

function load(): { addon: Addon } | { addon?: undefined; reason: string } {
  try {
    // src/bench/ and dist/bench/ are both two levels below the repository root that holds build/.
    return { addon: createRequire(import.meta.url)('../../native/load-driver/build/Release/estuary_load.node') as Addon };
  } catch (err) {
    return { reason: `native/load-driver/build/Release/estuary_load.node did not load (npm run build:load builds it): ${(err as Error).message.split('\n')[0]}` };
  }
}

const loaded = load();

export function nativeLoadAvailable(): boolean {
  return loaded.addon !== undefined;
}

/** Why the native engine is unavailable, or undefined when it is loaded. */
export function nativeLoadError(): string | undefined {
  return loaded.addon ? undefined : loaded.reason;
}

/**
 * The request bytes the scenario sends: one per pooled body (POST), or one (GET). The headers are
 * those Node's https client sends for the same RunSpec: Host with the port, Authorization,
 * Content-Type and Content-Length for a body, and Connection (close per request, or keep-alive).
 */
export function buildRequests(spec: RunSpec, bodies: readonly Buffer[]): Buffer[] {
  const usesBodies = spec.bodyOffset !== undefined;
  if (usesBodies && bodies.length === 0) throw new Error('the scenario posts CSRs but the driver has none');
  const head = (body: Buffer | undefined): string => {
    const lines = [`${spec.method} ${spec.path} HTTP/1.1`, `Host: ${spec.host}:${spec.port}`];
    if (spec.authorization) lines.push(`Authorization: ${spec.authorization}`);
    if (body) lines.push(`Content-Type: ${spec.contentType ?? 'application/octet-stream'}`, `Content-Length: ${body.length}`);
    lines.push(`Connection: ${spec.keepAlive ? 'keep-alive' : 'close'}`);
    return lines.join('\r\n') + '\r\n\r\n';
  };
  if (!usesBodies) return [Buffer.from(head(undefined), 'latin1')];
  return bodies.map((body) => Buffer.concat([Buffer.from(head(body), 'latin1'), body]));
}

/** runLoad of src/bench/driver.ts on the native engine; blocks this thread until the run is over. */
export function nativeRunLoad(
  spec: RunSpec,
  bodies: readonly Buffer[],
  options: { legacyEcDecode?: boolean } = {},
): NativeRunResult {
  if (!loaded.addon) throw new Error(loaded.reason);
  return loaded.addon.runLoad({
    host: spec.host,
    port: spec.port,
    request: buildRequests(spec, bodies),
    offset: spec.bodyOffset ?? 0,
    keepAlive: spec.keepAlive,
    concurrency: spec.concurrency,
    measureStart: spec.measureStart,
    measureEnd: spec.measureEnd,
    ...(spec.ca !== undefined ? { caPem: spec.ca } : {}),
    legacyEcDecode: options.legacyEcDecode ?? process.env['ESTUARY_LOAD_LEGACY_EC'] !== 'off',
  });
}

/**
 * The native engine's TLS counts summed over the drivers' results of one run, or undefined when
 * the node engine ran (it does not count them). Throws when any handshake resumed a session: a
 * resumed handshake costs the server less than a device's first contact, so the run would
 * overstate what the server can take.
 */
export function fullHandshakes(scenario: string, results: readonly RunResult[]): { handshakes: number; resumed: number } | undefined {
  if (results.some((r) => r.handshakes === undefined || r.resumed === undefined)) return undefined;
  const handshakes = results.reduce((n, r) => n + r.handshakes!, 0);
  const resumed = results.reduce((n, r) => n + r.resumed!, 0);
  if (resumed > 0) throw new Error(`${scenario}: ${resumed} of ${handshakes} TLS handshakes resumed a session; the driver must make full handshakes only`);
  return { handshakes, resumed };
}
