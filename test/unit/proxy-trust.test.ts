/** Proxy mode: trusted proxy addresses (IPv4/IPv6 CIDR), X-Forwarded-For, and est.proxy validation. */
import { describe, expect, it } from 'vitest';
import { ConfigError, validateConfig } from '../../src/cli/config.js';
import { forwardedClient, normaliseAddress, parseProxySettings, parseRange, ProxySettingsError, TrustedProxies } from '../../src/est/proxy-trust.js';

describe('TrustedProxies', () => {
  const trusted = new TrustedProxies(['127.0.0.2', '10.0.0.0/8', '192.168.1.0/24', 'fd00::/8', '::1']);

  it('matches single addresses and CIDR ranges, IPv4 and IPv6', () => {
    for (const a of ['127.0.0.2', '10.0.0.1', '10.255.255.255', '192.168.1.77', 'fd12:3456::1', '::1']) expect(trusted.has(a), a).toBe(true);
    for (const a of ['127.0.0.1', '11.0.0.1', '9.255.255.255', '192.168.2.1', 'fe80::1', '::2', '2001:db8::1']) expect(trusted.has(a), a).toBe(false);
  });

  it('reads an IPv4-mapped IPv6 peer (a dual-stack listener) as the IPv4 address', () => {
    expect(trusted.has('::ffff:10.1.2.3')).toBe(true);
    expect(trusted.has('::FFFF:127.0.0.1')).toBe(false);
    expect(normaliseAddress('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(normaliseAddress('2001:db8::1')).toBe('2001:db8::1');
  });

  it('never matches what is not an address', () => {
    for (const a of [undefined, '', 'localhost', '10.0.0.0/8', '10.0.0.1:443']) expect(trusted.has(a)).toBe(false);
    expect(new TrustedProxies([]).has('127.0.0.1')).toBe(false);
  });

  it('parses ranges strictly', () => {
    expect(parseRange('10.0.0.0/8')).toEqual({ address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    expect(parseRange('2001:db8::/32')).toEqual({ address: '2001:db8::', prefix: 32, family: 'ipv6' });
    expect(parseRange('127.0.0.1')).toEqual({ address: '127.0.0.1', prefix: 32, family: 'ipv4' });
    for (const bad of ['10.0.0.0/33', '::/129', '10.0.0/8', 'example.com', '10.0.0.0/8/1', '10.0.0.0/-1', '10.0.0.0/', '']) expect(parseRange(bad), bad).toBeUndefined();
    expect(() => new TrustedProxies(['nope'])).toThrow(ProxySettingsError);
  });
});

describe('forwardedClient (X-Forwarded-For)', () => {
  const trusted = new TrustedProxies(['127.0.0.2', '10.0.0.0/8']);

  it('is the peer without the header', () => {
    expect(forwardedClient('127.0.0.2', undefined, trusted)).toBe('127.0.0.2');
    expect(forwardedClient('::ffff:127.0.0.2', '', trusted)).toBe('127.0.0.2');
  });

  it('is the rightmost hop that is not a trusted proxy; hops the client wrote are not believed', () => {
    expect(forwardedClient('127.0.0.2', '198.51.100.7', trusted)).toBe('198.51.100.7');
    // the client sent "X-Forwarded-For: 203.0.113.9"; the proxy appended the address it saw
    expect(forwardedClient('127.0.0.2', '203.0.113.9, 198.51.100.7', trusted)).toBe('198.51.100.7');
    // two proxies: the ingress (10.1.1.1) forwarded to the sidecar
    expect(forwardedClient('127.0.0.2', '203.0.113.9, 198.51.100.7, 10.1.1.1', trusted)).toBe('198.51.100.7');
    // several header fields are one list (RFC 9110 §5.3)
    expect(forwardedClient('127.0.0.2', ['203.0.113.9', '198.51.100.7 , 10.1.1.1'], trusted)).toBe('198.51.100.7');
    expect(forwardedClient('127.0.0.2', '2001:db8::5', trusted)).toBe('2001:db8::5');
  });

  it('is the leftmost hop when every hop is a trusted proxy', () => {
    expect(forwardedClient('127.0.0.2', '10.0.0.5, 10.0.0.6', trusted)).toBe('10.0.0.5');
  });

  it('stops at a hop that is not an address, keeping the last trusted one', () => {
    expect(forwardedClient('127.0.0.2', 'garbage', trusted)).toBe('127.0.0.2');
    expect(forwardedClient('127.0.0.2', '198.51.100.7, unknown, 10.0.0.5', trusted)).toBe('10.0.0.5');
  });
});

describe('est.proxy settings', () => {
  const MINIMAL = { cas: { default: { certificate: 'ca/issuing.pem', key: 'ca/issuing-key.pem' } } };
  const configError = (proxy: unknown): string => {
    try {
      validateConfig({ ...MINIMAL, est: { proxy } }, '/srv/estuary');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error('expected a ConfigError');
  };

  it('is off unless configured; reads the header, the proxies and forwardedFor with defaults', () => {
    expect(validateConfig(MINIMAL, '/srv/estuary').est.proxy).toBeUndefined();
    expect(validateConfig({ ...MINIMAL, est: { proxy: { trustedProxies: ['127.0.0.1', '10.0.0.0/8', 'fd00::/8'] } } }, '/srv/estuary').est.proxy).toEqual({
      clientCertHeader: 'x-ssl-client-cert', trustedProxies: ['127.0.0.1', '10.0.0.0/8', 'fd00::/8'], forwardedFor: true,
    });
    expect(parseProxySettings({ clientCertHeader: 'X-Client-Cert', trustedProxies: ['::1'], forwardedFor: false }, 'p')).toEqual({
      clientCertHeader: 'x-client-cert', trustedProxies: ['::1'], forwardedFor: false,
    });
  });

  it('names the field of every error', () => {
    expect(configError('yes')).toMatch(/^est\.proxy: expected a mapping/);
    expect(configError({})).toMatch(/^est\.proxy\.trustedProxies: expected a non-empty list/);
    expect(configError({ trustedProxies: [] })).toMatch(/^est\.proxy\.trustedProxies: expected a non-empty list/);
    expect(configError({ trustedProxies: '10.0.0.0/8' })).toMatch(/^est\.proxy\.trustedProxies: expected a non-empty list/);
    expect(configError({ trustedProxies: ['10.0.0.1', 'proxy.internal'] })).toMatch(/^est\.proxy\.trustedProxies\[1\]: "proxy\.internal" is not an IP address or CIDR range/);
    expect(configError({ trustedProxies: [42] })).toMatch(/^est\.proxy\.trustedProxies\[0\]: expected an IP address or CIDR range/);
    expect(configError({ trustedProxies: ['0.0.0.0/0'] })).toMatch(/^est\.proxy\.trustedProxies\[0\]: "0\.0\.0\.0\/0" trusts every address/);
    expect(configError({ trustedProxies: ['::/0'] })).toMatch(/trusts every address/);
    expect(configError({ trustedProxies: ['10.0.0.1'], clientCertHeader: 'X SSL' })).toMatch(/^est\.proxy\.clientCertHeader: expected an HTTP header name/);
    expect(configError({ trustedProxies: ['10.0.0.1'], clientCertHeader: 'Authorization' })).toMatch(/^est\.proxy\.clientCertHeader: Authorization has a meaning of its own/);
    expect(configError({ trustedProxies: ['10.0.0.1'], forwardedFor: 'yes' })).toMatch(/^est\.proxy\.forwardedFor: expected true or false/);
    expect(configError({ trustedProxies: ['10.0.0.1'], trusted: [] })).toMatch(/^est\.proxy\.trusted: unknown setting/);
    expect(configError({ trustedProxies: ['10.0.0.1'], plainHttp: true })).toMatch(/^est\.proxy\.plainHttp: not supported; the proxy connects to the EST listener over TLS/);
  });
});
