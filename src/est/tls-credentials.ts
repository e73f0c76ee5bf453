/** Credentials as the RA sees them, read from the HTTP request and the TLS socket. */
import type { FastifyRequest } from 'fastify';
import type { TLSSocket } from 'node:tls';
import type { Credentials } from '../ra/authenticators.js';
import { proxiedRequest } from './proxied-request.js';

const chainBySocket = new WeakMap<object, Buffer[]>();

/** The client's certificate chain as sent in the handshake, leaf first (DER); [] when none. */
export function peerChain(socket: TLSSocket): Buffer[] {
  const cached = chainBySocket.get(socket);
  if (cached) return cached;
  const chain: Buffer[] = [];
  if (typeof socket.getPeerCertificate === 'function') {
    let cert = socket.getPeerCertificate(true);
    const seen = new Set<string>();
    while (cert && cert.raw && !seen.has(cert.fingerprint256)) {
      seen.add(cert.fingerprint256);
      chain.push(cert.raw);
      cert = cert.issuerCertificate;
    }
  }
  chainBySocket.set(socket, chain);
  return chain;
}

/**
 * RFC 7030 §3.5 channel binding. TLS 1.3: the RFC 9266 exporter (32 bytes, label
 * EXPORTER-Channel-Binding, no context). TLS 1.2: tls-unique (RFC 5929), the first Finished
 * message of the latest handshake: the client's in a full handshake, ours in a resumed one.
 */
export function channelBinding(socket: TLSSocket): Buffer | undefined {
  if (typeof socket.getProtocol !== 'function') return undefined;
  const protocol = socket.getProtocol();
  if (protocol === 'TLSv1.3') return socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
  if (protocol === 'TLSv1.2') return socket.isSessionReused() ? socket.getFinished() : socket.getPeerFinished();
  return undefined;
}

/** RFC 7617 Basic credentials; undefined when absent or not Basic. */
export function basicCredentials(header: string | undefined): { user: string; password: string } | undefined {
  if (!header) return undefined;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * Credentials whose certificate chain is read from the socket only if the RA asks for it. Through
 * a trusted TLS-terminating proxy (proxied-request.ts) the chain is the one the proxy forwarded,
 * never the socket's (that is the proxy's own), and there is no channel binding to the client.
 */
export function credentialsOf(request: FastifyRequest): Credentials {
  const basic = basicCredentials(request.headers.authorization);
  const proxied = proxiedRequest(request.raw);
  if (proxied) return { ...(basic ? { basic } : {}), address: proxied.address, clientChain: proxied.clientChain, channelBinding: undefined, viaProxy: true };
  const socket = request.raw.socket as TLSSocket;
  return {
    ...(basic ? { basic } : {}),
    // The peer of the TCP connection.
    address: socket.remoteAddress,
    get clientChain() {
      return peerChain(socket);
    },
    get channelBinding() {
      return channelBinding(socket);
    },
  };
}
