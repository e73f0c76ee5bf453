import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRenewConfig, parseRenewConfig, RenewConfigError, validateRenewConfig } from '../../src/client/renew-config.js';

const BASE = '/etc/estuary';

const minimal = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  name: 'web',
  server: 'https://est.example.com:8443',
  trust: { ca: 'ca.pem' },
  cert: 'web.pem',
  key: 'web.key',
  ...over,
});

const withEntry = (over: Record<string, unknown> = {}, root: Record<string, unknown> = {}): unknown => ({ entries: [minimal(over)], ...root });

function error(doc: unknown): string {
  try {
    validateRenewConfig(doc, BASE);
  } catch (err) {
    expect(err).toBeInstanceOf(RenewConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a RenewConfigError');
}

describe('renew configuration', () => {
  it('fills the defaults and resolves paths against the configuration directory', () => {
    const c = validateRenewConfig(withEntry(), BASE);
    expect(c.baseDir).toBe(BASE);
    expect(c.retry).toEqual({ initialSeconds: 30, maxSeconds: 3600, jitter: 'full' });
    expect(c.entries).toEqual([
      {
        name: 'web',
        server: 'https://est.example.com:8443',
        label: undefined,
        trust: { kind: 'explicit', caFile: '/etc/estuary/ca.pem' },
        auth: { user: undefined, passwordFile: undefined, useCertificate: true, clientCert: undefined, clientKey: undefined },
        cert: '/etc/estuary/web.pem',
        key: '/etc/estuary/web.key',
        chain: undefined,
        renewAt: { kind: 'fraction', fraction: 2 / 3 },
        rekey: false,
        keyType: undefined,
        keyPasswordFile: undefined,
        postRenew: undefined,
        postRenewTimeoutSeconds: 300,
        maxWaitSeconds: 300,
        enrollIfExpired: false,
        subject: undefined,
        sans: undefined,
      },
    ]);
  });

  it('reads every setting', () => {
    const text = `
retry: { initialSeconds: 5, maxSeconds: 600, jitter: decorrelated }
entries:
  - name: api.example-1
    server: https://est.example.com/
    label: servers
    trust: { implicit: true }
    auth: { user: api, passwordFile: secrets/api.pass, useCertificate: false, clientCert: /boot/cert.pem, clientKey: /boot/key.pem }
    cert: /srv/api.pem
    key: /srv/api.key
    chain: chain.pem
    renewAt: 12h
    rekey: true
    keyType: rsa-3072
    keyPasswordFile: key.pass
    postRenew: systemctl reload nginx
    postRenewTimeoutSeconds: 20
    maxWaitSeconds: 0
    enrollIfExpired: true
    subject: CN=api.example.com, O=Example
    dns: [api.example.com, api2.example.com]
    ip: 192.0.2.7
`;
    const c = parseRenewConfig(text, BASE);
    expect(c.retry).toEqual({ initialSeconds: 5, maxSeconds: 600, jitter: 'decorrelated' });
    expect(c.entries[0]).toEqual({
      name: 'api.example-1',
      server: 'https://est.example.com',
      label: 'servers',
      trust: { kind: 'implicit' },
      auth: { user: 'api', passwordFile: '/etc/estuary/secrets/api.pass', useCertificate: false, clientCert: '/boot/cert.pem', clientKey: '/boot/key.pem' },
      cert: '/srv/api.pem',
      key: '/srv/api.key',
      chain: '/etc/estuary/chain.pem',
      renewAt: { kind: 'before', seconds: 43_200 },
      rekey: true,
      keyType: 'rsa-3072',
      keyPasswordFile: '/etc/estuary/key.pass',
      postRenew: 'systemctl reload nginx',
      postRenewTimeoutSeconds: 20,
      maxWaitSeconds: 0,
      enrollIfExpired: true,
      subject: 'CN=api.example.com, O=Example',
      sans: { dns: ['api.example.com', 'api2.example.com'], ip: ['192.0.2.7'], email: [], uri: [] },
    });
  });

  it('names the field in every error', () => {
    expect(error([])).toMatch(/YAML mapping/);
    expect(error({})).toMatch(/^entries: expected a list/);
    expect(error({ entries: [] })).toMatch(/^entries: expected a list of at least one/);
    expect(error({ entries: [], color: 1 })).toMatch(/^color: unknown setting/);
    expect(error(withEntry({ colour: 'red' }))).toMatch(/^entries\[0\]\.colour: unknown setting/);
    expect(error({ entries: ['x'] })).toMatch(/^entries\[0\]: expected a mapping/);
    expect(error(withEntry({ name: undefined }))).toMatch(/^entries\[0\]\.name: required/);
    expect(error(withEntry({ name: 'a b' }))).toMatch(/^entries\[0\]\.name: letters/);
    expect(error(withEntry({ server: undefined }))).toMatch(/^entries\[0\] \(web\)\.server: required/);
    expect(error(withEntry({ server: 'http://est.example.com' }))).toMatch(/\.server: EST runs over HTTPS/);
    expect(error(withEntry({ server: 'est.example.com' }))).toMatch(/\.server: not a URL/);
    expect(error(withEntry({ label: 'a/b' }))).toMatch(/\.label: one path segment/);
    expect(error(withEntry({ trust: undefined }))).toMatch(/\.trust: required/);
    expect(error(withEntry({ trust: { ca: 'a.pem', implicit: true } }))).toMatch(/\.trust: give exactly one/);
    expect(error(withEntry({ trust: {} }))).toMatch(/\.trust: give exactly one/);
    expect(error(withEntry({ trust: { fingerprint: 'AB' } }))).toMatch(/\.trust\.fingerprint: unknown setting/);
    expect(error(withEntry({ trust: { implicit: 'yes' } }))).toMatch(/\.trust\.implicit: expected true or false/);
    expect(error(withEntry({ auth: { user: 'x' } }))).toMatch(/\.auth: user and passwordFile go together/);
    expect(error(withEntry({ auth: { password: 'x' } }))).toMatch(/\.auth\.password: unknown setting/);
    expect(error(withEntry({ auth: { clientCert: 'c.pem' } }))).toMatch(/\.auth: clientCert and clientKey go together/);
    expect(error(withEntry({ auth: { useCertificate: false } }))).toMatch(/\.auth: no credential for reenroll/);
    expect(error(withEntry({ cert: undefined }))).toMatch(/\.cert: required/);
    expect(error(withEntry({ key: 'web.pem' }))).toMatch(/cert and key must be different files/);
    expect(error(withEntry({ renewAt: 'soon' }))).toMatch(/^entries\[0\] \(web\)\.renewAt: expected a percentage/);
    expect(error(withEntry({ renewAt: 66 }))).toMatch(/\.renewAt: expected a string such as "66%"/);
    expect(error(withEntry({ renewAt: '100%' }))).toMatch(/\.renewAt: a percentage of the lifetime must be/);
    expect(error(withEntry({ rekey: 'yes' }))).toMatch(/\.rekey: expected true or false/);
    expect(error(withEntry({ keyType: 'dsa-1024' }))).toMatch(/\.keyType: expected one of ec-p256/);
    expect(error(withEntry({ postRenew: '' }))).toMatch(/\.postRenew: expected a non-empty string/);
    expect(error(withEntry({ postRenewTimeoutSeconds: 0 }))).toMatch(/\.postRenewTimeoutSeconds: expected a number of seconds ≥ 1/);
    expect(error(withEntry({ maxWaitSeconds: -1 }))).toMatch(/\.maxWaitSeconds: expected a number/);
    expect(error(withEntry({ dns: [1] }))).toMatch(/\.dns: expected a list of strings/);
    expect(error(withEntry({ enrollIfExpired: true }))).toMatch(/\.enrollIfExpired: a fresh enrollment cannot use the expired certificate/);
    expect(error(withEntry({}, { retry: { initialSeconds: 0 } }))).toMatch(/^retry\.initialSeconds: expected a number of seconds ≥ 1/);
    expect(error(withEntry({}, { retry: { initialSeconds: 60, maxSeconds: 30 } }))).toMatch(/^retry\.maxSeconds: must not be less/);
    expect(error(withEntry({}, { retry: { jitter: 'equal' } }))).toMatch(/^retry\.jitter: expected full or decorrelated/);
    expect(error(withEntry({}, { retry: { backoff: 2 } }))).toMatch(/^retry\.backoff: unknown setting/);
  });

  it('refuses two entries with the same name, certificate or key file', () => {
    expect(error({ entries: [minimal(), minimal({ cert: 'b.pem', key: 'b.key' })] })).toMatch(/^entries\[1\]\.name: "web" is already used by entries\[0\] \(web\)/);
    expect(error({ entries: [minimal(), minimal({ name: 'b', key: 'b.key', cert: '/etc/estuary/web.pem' })] })).toMatch(/^entries\[1\]\.cert: "\/etc\/estuary\/web.pem" is already used/);
    expect(error({ entries: [minimal(), minimal({ name: 'b', cert: 'b.pem' })] })).toMatch(/^entries\[1\]\.key: .* is already used/);
  });

  it('loads a file: errors name the file, relative paths are relative to it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'estuary-renew-config-'));
    const file = join(dir, 'renew.yaml');
    writeFileSync(file, 'entries:\n  - name: web\n    server: https://est.example.com\n    trust: { ca: ca.pem }\n    cert: certs/web.pem\n    key: certs/web.key\n');
    const c = loadRenewConfig(file);
    expect(c.baseDir).toBe(dir);
    expect(c.entries[0]!.cert).toBe(join(dir, 'certs/web.pem'));
    writeFileSync(file, 'entries: [\n');
    expect(() => loadRenewConfig(file)).toThrow(new RegExp(`^${file}: not valid YAML`));
    writeFileSync(file, 'entries:\n  - name: web\n');
    expect(() => loadRenewConfig(file)).toThrow(new RegExp(`^${file}: entries\\[0\\] \\(web\\)\\.server: required`));
    expect(() => loadRenewConfig(join(dir, 'missing.yaml'))).toThrow(/missing.yaml: cannot read: ENOENT/);
  });
});
