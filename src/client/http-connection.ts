/**
 * The EST client's transport: HTTP/1.1 over kept-alive TLS connections (node:https with an agent
 * of one socket by default, a bounded pool when asked). A request body can be built once the connection that will carry it is
 * known, from that connection's channel binding (RFC 7030 §3.5). If the server closes the
 * connection after an answer (`Connection: close`) the next request opens a new one; if a reused
 * idle connection turns out to be reset, the request is sent again once on a new connection (and
 * its body built again for the new binding).
 */
import { Agent, request as httpsRequest } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { ConnectionOptions, SecureVersion, TLSSocket } from 'node:tls';
import { classifyError, EstClientError } from './errors.js';
import { mayAuthenticate, tlsTrustOptions, type Trust } from './trust.js';
import { ESTUARY_VERSION } from '../version.js';

/** What a request body may depend on: the TLS session of the connection that carries it. */
export interface ConnectionInfo {
  channelBinding: Buffer | undefined;
  tlsVersion: string;
  /** The server's TLS certificate (DER), as the handshake presented it. */
  peerCertificate?: Buffer | undefined;
}

export interface HttpConnectionOptions {
  host: string; // a DNS name or an IP literal without brackets
  port: number;
  trust: Trust;
  clientCert?: { certPem: string; keyPem: string; passphrase?: string };
  tls?: { minVersion?: SecureVersion; maxVersion?: SecureVersion };
  timeoutMs?: number;
  /** Largest answer body accepted (default 16 MiB). */
  maxBodyBytes?: number;
  /**
   * Connections kept open to the server at once (default 1). Requests beyond that wait for a free
   * one; idle connections stay open for the next request (the RA's upstream pool).
   */
  maxConnections?: number;
}

export interface HttpRequest {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  /** Built on the connection that carries the request; called again for a new connection. */
  body?: (conn: ConnectionInfo) => Promise<{ contentType: string; body: Buffer | string }>;
  /** The operation, for messages. */
  what: string;
}

export interface HttpResponse extends ConnectionInfo {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * RFC 7030 §3.5 channel binding of a client connection. TLS 1.3: the RFC 9266 tls-exporter.
 * TLS ≤ 1.2: tls-unique (RFC 5929 §3.1), the first Finished message of the latest handshake:
 * ours in a full handshake, the server's in an abbreviated (resumed) one.
 */
export function clientChannelBinding(socket: TLSSocket): Buffer | undefined {
  const protocol = socket.getProtocol();
  if (protocol === 'TLSv1.3') return socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
  if (protocol === 'TLSv1.2' || protocol === 'TLSv1.1' || protocol === 'TLSv1') return (socket.isSessionReused() ? socket.getPeerFinished() : socket.getFinished()) ?? undefined;
  return undefined;
}

/** TLS 1.3 connections' info, read once per connection (see connectionInfo). */
const tls13Info = new WeakMap<Socket, ConnectionInfo>();

/**
 * What a request body may depend on, for the connection about to carry it. A TLS 1.3 connection
 * has no renegotiation: its exporter binding and the server's certificate stay what the handshake
 * made them, so they are read once per connection, not per request (getPeerCertificate builds
 * the whole certificate object each time). TLS ≤ 1.2 is read each time: a renegotiation changes
 * tls-unique.
 */
function connectionInfo(socket: TLSSocket): ConnectionInfo {
  let info = tls13Info.get(socket);
  if (!info) {
    const peer = socket.getPeerCertificate?.();
    const tlsVersion = socket.getProtocol?.() ?? 'unknown';
    info = { channelBinding: clientChannelBinding(socket), tlsVersion, peerCertificate: peer?.raw ? Buffer.from(peer.raw) : undefined };
    if (tlsVersion === 'TLSv1.3') tls13Info.set(socket, info);
  }
  // copies: what one request's body builder or caller does with its buffers is not the next request's
  return {
    channelBinding: info.channelBinding && Buffer.from(info.channelBinding), tlsVersion: info.tlsVersion,
    peerCertificate: info.peerCertificate && Buffer.from(info.peerCertificate),
  };
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_BODY = 16 * 1024 * 1024;

/** Sockets the agent opened, with the promise of their completed (and verified) handshake. */
const handshakes = new WeakMap<Socket, Promise<void>>();

class CountingAgent extends Agent {
  /** TLS connections opened so far (each one a full handshake). */
  handshakes = 0;

  override createConnection(...args: unknown[]): Socket {
    const create = Agent.prototype.createConnection as unknown as (...a: unknown[]) => Socket;
    const socket = create.apply(this, args) as TLSSocket;
    this.handshakes++;
    const done = new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', () => resolve());
      socket.once('error', reject);
      socket.once('close', () => reject(new EstClientError('network', 'the connection closed during the TLS handshake')));
    });
    done.catch(() => undefined); // the request reports the error
    handshakes.set(socket, done);
    return socket;
  }
}

export class HttpConnection {
  private readonly agent: CountingAgent;
  private readonly timeoutMs: number;
  private readonly maxBody: number;
  private closed = false;

  constructor(private readonly opts: HttpConnectionOptions) {
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
    const tlsOptions: ConnectionOptions = {
      ...tlsTrustOptions(opts.trust),
      minVersion: opts.tls?.minVersion ?? 'TLSv1.2',
      ...(opts.tls?.maxVersion ? { maxVersion: opts.tls.maxVersion } : {}),
      // A client certificate is a credential: never offered during bootstrap (RFC 7030 §4.1.1).
      ...(opts.clientCert && mayAuthenticate(opts.trust) ? { cert: opts.clientCert.certPem, key: opts.clientCert.keyPem, ...(opts.clientCert.passphrase !== undefined ? { passphrase: opts.clientCert.passphrase } : {}) } : {}),
    };
    const sockets = Math.max(1, Math.floor(opts.maxConnections ?? 1));
    this.agent = new CountingAgent({
      keepAlive: true,
      maxSockets: sockets,
      maxFreeSockets: sockets,
      // the most recently used idle connection first, so that a quiet period lets the others time out
      scheduling: 'lifo',
      // No TLS session resumption: every connection is a full handshake, so tls-unique is
      // always our Finished message and never subject to the triple-handshake problem.
      maxCachedSessions: 0,
      ...tlsOptions,
    });
  }

  /** Send one request; a reset of a reused idle connection is retried once on a new connection. */
  async request(req: HttpRequest): Promise<HttpResponse> {
    if (this.closed) throw new EstClientError('usage', `${req.what}: the client is closed`);
    try {
      return await this.send(req);
    } catch (err) {
      if (!(err as { retryable?: boolean }).retryable) throw err;
      return this.send(req);
    }
  }

  /** TLS connections opened so far: one per connection, not per request, while connections are kept alive. */
  get handshakes(): number {
    return this.agent.handshakes;
  }

  close(): void {
    this.closed = true;
    this.agent.destroy();
  }

  private send(r: HttpRequest): Promise<HttpResponse> {
    return new Promise<HttpResponse>((resolve, reject) => {
      let settled = false;
      let bodyError: unknown;
      let answered = false;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn();
      };
      const req = httpsRequest({
        host: this.opts.host,
        port: this.opts.port,
        path: r.path,
        method: r.method,
        agent: this.agent,
        headers: { 'User-Agent': `estuary-client/${ESTUARY_VERSION}`, ...(r.headers ?? {}) },
      });
      const timer = setTimeout(() => {
        req.destroy(Object.assign(new Error(`no answer within ${Math.round(this.timeoutMs / 1000)} s`), { code: 'ETIMEDOUT' }));
      }, this.timeoutMs);
      req.on('error', (err: NodeJS.ErrnoException) => {
        finish(() => {
          if (bodyError !== undefined) return reject(bodyError);
          const e = classifyError(err, r.what);
          // A kept-alive connection the server closed while idle: try once more on a new one.
          const retryable = req.reusedSocket && !answered && e.kind === 'network' && !/no answer within/.test(e.message);
          reject(Object.assign(e, { retryable }));
        });
      });
      let conn: ConnectionInfo | undefined;
      req.on('socket', (socket: Socket) => {
        const ready = handshakes.get(socket) ?? Promise.resolve();
        ready
          .then(async () => {
            conn = connectionInfo(socket as TLSSocket);
            if (!r.body) return req.end();
            let built: { contentType: string; body: Buffer | string };
            try {
              built = await r.body(conn);
            } catch (err) {
              bodyError = err;
              throw err;
            }
            const payload = typeof built.body === 'string' ? Buffer.from(built.body, 'latin1') : built.body;
            req.setHeader('Content-Type', built.contentType);
            req.setHeader('Content-Length', payload.length);
            req.end(payload);
          })
          .catch((err: Error) => req.destroy(err));
      });
      req.on('response', (res) => {
        answered = true;
        const info = conn ?? { channelBinding: undefined, tlsVersion: 'unknown' };
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > this.maxBody) {
            res.destroy();
            finish(() => reject(new EstClientError('bad-response', `${r.what}: the answer is larger than ${this.maxBody} bytes`)));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => finish(() => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), ...info })));
        res.on('error', (err) => finish(() => reject(classifyError(err, r.what))));
        res.on('aborted', () => finish(() => reject(new EstClientError('network', `${r.what}: the connection closed in the middle of the answer`))));
      });
    });
  }
}
