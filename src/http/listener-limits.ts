/**
 * Resource bounds shared by the listeners: how long a request may take to arrive, how long a TLS
 * handshake may take, how many connections one client address may hold (EST), and the raw
 * connection list that lets a drain deadline close whatever is still open.
 */
import type { Server as NetServer, Socket } from 'node:net';
import type { Logger } from 'pino';
import { CanonicalServerResponse } from './canonical-headers.js';

export interface ListenerLimits {
  /** A request's headers and body must arrive within this (an unfinished body no longer holds a connection). */
  requestTimeoutMs: number;
  /** A TCP connection that has not finished the TLS handshake within this is closed. */
  handshakeTimeoutMs: number;
  /** Open connections per client address on the EST listener; 0: no cap. */
  maxConnectionsPerClient: number;
}

export const DEFAULT_LIMITS: ListenerLimits = { requestTimeoutMs: 30_000, handshakeTimeoutMs: 10_000, maxConnectionsPerClient: 64 };

/**
 * TLS 1.2 suites: ECDHE with AES-GCM or ChaCha20-Poly1305 only (no CBC, no SHA-1 MACs, no static
 * RSA key exchange); TLS 1.3 keeps its three AEAD suites.
 */
export const TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** node http(s) server options every listener uses: canonical header names and the request bound. */
export function httpServerOptions(limits: ListenerLimits) {
  return {
    ServerResponse: CanonicalServerResponse,
    // A missing Host is refused by each listener in text/plain (http-semantics.ts), not by node with an empty 400.
    requireHostHeader: false,
    requestTimeout: limits.requestTimeoutMs,
    // node checks the bound on this interval; headersTimeout may not exceed requestTimeout.
    headersTimeout: Math.min(60_000, limits.requestTimeoutMs),
    connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(limits.requestTimeoutMs / 4))),
  };
}

/** The https options shared by the EST and Web RA listeners. */
/** The TLS context of every HTTPS listener; also what setSecureContext is given when the server certificate is replaced. */
export function tlsContextOptions(tls: { key: string | Buffer; cert: string | Buffer }) {
  return { key: tls.key, cert: tls.cert, minVersion: 'TLSv1.2' as const, ciphers: TLS_CIPHERS, honorCipherOrder: true };
}

export function httpsServerOptions(tls: { key: string | Buffer; cert: string | Buffer }, limits: ListenerLimits) {
  return {
    ...tlsContextOptions(tls),
    handshakeTimeout: limits.handshakeTimeoutMs,
    ...httpServerOptions(limits),
  };
}

export interface ConnectionGuardOptions {
  logger: Logger;
  /** Milliseconds since the epoch (the clock is passed in). */
  now: () => number;
  /** 0: no cap. */
  maxPerClient: number;
  /** Addresses whose connections are not capped (trusted proxies, which carry many clients). */
  exempt?: (address: string) => boolean;
  /** At most one warning per this many milliseconds about refused connections. */
  logEveryMs?: number;
  listener: string;
}

export interface ConnectionGuard {
  /** Connections open now. */
  readonly open: number;
  /** Destroy every connection still open (the drain deadline); returns how many. */
  destroyAll(): number;
}

/**
 * Tracks the raw connections of a server, refuses a client address's connections beyond the cap
 * at once (before TLS), and logs refusals at most once per interval with a count.
 */
export function guardConnections(server: NetServer, o: ConnectionGuardOptions): ConnectionGuard {
  const sockets = new Set<Socket>();
  const perAddress = new Map<string, number>();
  const logEvery = o.logEveryMs ?? 10_000;
  let refused = 0;
  let refusedFrom = new Set<string>();
  let lastLog = -Infinity;

  const report = (): void => {
    const t = o.now();
    if (t - lastLog < logEvery) return;
    lastLog = t;
    const addresses = [...refusedFrom];
    o.logger.warn({ listener: o.listener, refused, max: o.maxPerClient, addresses: addresses.slice(0, 5), moreAddresses: Math.max(0, addresses.length - 5) },
      'connections refused: over the per-client connection cap');
    refused = 0;
    refusedFrom = new Set();
  };

  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const count = perAddress.get(address) ?? 0;
    if (o.maxPerClient > 0 && count >= o.maxPerClient && !o.exempt?.(address)) {
      socket.destroy();
      refused++;
      refusedFrom.add(address);
      report();
      return;
    }
    perAddress.set(address, count + 1);
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left <= 0) perAddress.delete(address);
      else perAddress.set(address, left);
    });
  });

  return {
    get open() {
      return sockets.size;
    },
    destroyAll() {
      const n = sockets.size;
      for (const s of sockets) s.destroy();
      return n;
    },
  };
}
