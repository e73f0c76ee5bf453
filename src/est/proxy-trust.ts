/**
 * Proxy mode of the EST listener: which TCP peers are TLS-terminating proxies whose forwarded
 * client certificate and X-Forwarded-For are believed, and the client address they name.
 * Everything here is about the peer address of the connection; nothing a client sends can make
 * a connection trusted.
 */
import { BlockList, isIP } from 'node:net';

/** `est.proxy` of estuary.yaml, validated. */
export interface ProxySettings {
  /** The request header carrying the client certificate, lower-case (node's header keys). */
  clientCertHeader: string;
  /** Addresses and CIDR ranges (IPv4 and IPv6) of the proxies, as configured. */
  trustedProxies: readonly string[];
  /** Take the client address for throttling from X-Forwarded-For (rightmost hop that is not a trusted proxy). */
  forwardedFor: boolean;
}

export const DEFAULT_CLIENT_CERT_HEADER = 'X-SSL-Client-Cert';

export class ProxySettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProxySettingsError';
  }
}

/** An IPv4-mapped IPv6 address (a dual-stack socket's view of an IPv4 peer) as the IPv4 address it is. */
export function normaliseAddress(address: string): string {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return m ? m[1]! : address;
}

/** "10.0.0.0/8", "fd00::/8" or a single address; undefined when it is neither. */
export function parseRange(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [rawAddress = '', prefixText, extra] = text.trim().split('/');
  if (extra !== undefined) return undefined;
  const address = normaliseAddress(rawAddress);
  const version = isIP(address);
  if (version === 0) return undefined;
  const max = version === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefix > max) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** The set of trusted proxy addresses. */
export class TrustedProxies {
  private readonly list = new BlockList();

  constructor(ranges: readonly string[]) {
    for (const text of ranges) {
      const r = parseRange(text);
      if (!r) throw new ProxySettingsError(`"${text}" is not an IP address or CIDR range`);
      this.list.addSubnet(r.address, r.prefix, r.family);
    }
  }

  has(address: string | undefined): boolean {
    if (!address) return false;
    const a = normaliseAddress(address);
    const version = isIP(a);
    if (version === 0) return false;
    return this.list.check(a, version === 4 ? 'ipv4' : 'ipv6');
  }
}

/**
 * The client's address when the peer is a trusted proxy: walking X-Forwarded-For from the right
 * (each proxy appends the address it received the request from), the first hop that is not a
 * trusted proxy. Hops to the left of it were written by the client or by proxies we do not know,
 * and are not believed. A hop that is not an IP address stops the walk at the last trusted one.
 */
export function forwardedClient(peer: string, forwardedFor: string | string[] | undefined, trusted: TrustedProxies): string {
  const values = forwardedFor === undefined ? [] : Array.isArray(forwardedFor) ? forwardedFor : [forwardedFor];
  const hops = values.join(',').split(',').map((h) => h.trim()).filter((h) => h !== '');
  let client = normaliseAddress(peer);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normaliseAddress(hops[i]!);
    if (isIP(hop) === 0) return client;
    client = hop;
    if (!trusted.has(hop)) return hop;
  }
  return client;
}

type Obj = Record<string, unknown>;

/** RFC 9110 §5.1: a field name is a token. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Headers with a meaning of their own that must not be read as a certificate. */
const RESERVED_HEADERS = new Set(['authorization', 'host', 'content-type', 'content-length', 'transfer-encoding', 'connection', 'x-forwarded-for', 'cookie']);

/**
 * Validate `est.proxy` (`path` names the field in errors). Off (undefined) when absent. Trusting
 * every address (0.0.0.0/0, ::/0) is refused: any client could then choose its own certificate.
 */
export function parseProxySettings(raw: unknown, path: string): ProxySettings | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ProxySettingsError(`${path}: expected a mapping`);
  const obj = raw as Obj;
  const allowed = ['clientCertHeader', 'trustedProxies', 'forwardedFor'];
  for (const k of Object.keys(obj)) {
    if (k === 'plainHttp') {
      throw new ProxySettingsError(`${path}.plainHttp: not supported; the proxy connects to the EST listener over TLS (e.g. HAProxy "ssl verify none", nginx "proxy_pass https://")`);
    }
    if (!allowed.includes(k)) throw new ProxySettingsError(`${path}.${k}: unknown setting (allowed: ${allowed.join(', ')})`);
  }
  const header = obj.clientCertHeader ?? DEFAULT_CLIENT_CERT_HEADER;
  if (typeof header !== 'string' || !TOKEN.test(header)) throw new ProxySettingsError(`${path}.clientCertHeader: expected an HTTP header name (e.g. ${DEFAULT_CLIENT_CERT_HEADER}), got ${JSON.stringify(obj.clientCertHeader)}`);
  if (RESERVED_HEADERS.has(header.toLowerCase())) throw new ProxySettingsError(`${path}.clientCertHeader: ${header} has a meaning of its own; choose another header (e.g. ${DEFAULT_CLIENT_CERT_HEADER})`);
  const list = obj.trustedProxies;
  if (!Array.isArray(list) || list.length === 0) throw new ProxySettingsError(`${path}.trustedProxies: expected a non-empty list of proxy addresses or CIDR ranges (e.g. [127.0.0.1, 10.0.0.0/8])`);
  const trustedProxies = list.map((v, i) => {
    const field = `${path}.trustedProxies[${i}]`;
    if (typeof v !== 'string') throw new ProxySettingsError(`${field}: expected an IP address or CIDR range, got ${JSON.stringify(v)}`);
    const r = parseRange(v);
    if (!r) throw new ProxySettingsError(`${field}: "${v}" is not an IP address or CIDR range (e.g. 10.0.0.0/8, fd00::/8, 127.0.0.1)`);
    if (r.prefix === 0) throw new ProxySettingsError(`${field}: "${v}" trusts every address, so any client could choose its own certificate; list the proxies' addresses`);
    return v.trim();
  });
  const forwardedFor = obj.forwardedFor ?? true;
  if (typeof forwardedFor !== 'boolean') throw new ProxySettingsError(`${path}.forwardedFor: expected true or false, got ${JSON.stringify(obj.forwardedFor)}`);
  return { clientCertHeader: header.toLowerCase(), trustedProxies, forwardedFor };
}
