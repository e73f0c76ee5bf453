/**
 * Requests that reach the EST listener through a trusted TLS-terminating proxy (est.proxy): the
 * client certificate comes from the configured header instead of the TLS socket (whose peer is
 * the proxy), and the client address from X-Forwarded-For. Decided once per request, from the TCP
 * peer address alone.
 */
import type { IncomingMessage } from 'node:http';
import { RaError } from '../ra/errors.js';
import { ForwardedCertificateError, parseForwardedCertificate } from './forwarded-certificate.js';
import { forwardedClient, normaliseAddress, TrustedProxies, type ProxySettings } from './proxy-trust.js';

export interface ProxiedRequest {
  /** The certificate chain the proxy forwarded, leaf first (DER); [] when the client presented none. */
  clientChain: Buffer[];
  /** The client's address as the proxies report it (for throttling). */
  address: string;
}

export interface ProxyMode {
  settings: ProxySettings;
  trusted: TrustedProxies;
}

export function proxyMode(settings: ProxySettings): ProxyMode {
  return { settings, trusted: new TrustedProxies(settings.trustedProxies) };
}

const byRequest = new WeakMap<IncomingMessage, ProxiedRequest>();

/**
 * Classify a request: from a trusted proxy, remember what it forwarded; from anyone else, a
 * request carrying the certificate header is refused with 400 rather than quietly ignored, so that
 * a proxy missing from trustedProxies (or a client trying its luck) is told at once instead of
 * being treated as a client without a certificate. Nothing of it is ever trusted.
 */
export function classifyRequest(mode: ProxyMode, raw: IncomingMessage): void {
  const header = mode.settings.clientCertHeader;
  const value = raw.headersDistinct[header];
  const peer = raw.socket.remoteAddress ?? '';
  if (!mode.trusted.has(peer)) {
    if (value !== undefined) {
      throw new RaError('bad-request', `the ${header} header is accepted only from a trusted proxy (est.proxy.trustedProxies), and ${peer || 'this peer'} is not one; present the client certificate in the TLS handshake instead`);
    }
    return;
  }
  let clientChain: Buffer[];
  try {
    clientChain = parseForwardedCertificate(value, header);
  } catch (err) {
    if (err instanceof ForwardedCertificateError) throw new RaError('bad-request', `the proxy forwarded an unreadable client certificate: ${err.message}`);
    throw err;
  }
  const address = mode.settings.forwardedFor ? forwardedClient(peer, raw.headers['x-forwarded-for'], mode.trusted) : normaliseAddress(peer);
  byRequest.set(raw, { clientChain, address });
}

/** What the trusted proxy forwarded for this request; undefined for a request that did not come through one. */
export function proxiedRequest(raw: IncomingMessage): ProxiedRequest | undefined {
  return byRequest.get(raw);
}
