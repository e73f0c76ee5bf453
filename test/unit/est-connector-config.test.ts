/**
 * The est connector's settings (src/ca/connectors/est.ts): every setting and its default, every
 * refusal naming its field (cas.<id>.…), and the files and secrets read at open. `estuary serve`
 * refusing a missing password variable: test/integration/est-connector-serve.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createCaHierarchy } from '../../src/ca/ca-setup.js';
import { ConnectorConfigError, type Settings } from '../../src/ca/connectors/config-fields.js';
import { estConnector, type EstCaConfig } from '../../src/ca/connectors/est.js';
import { connectorKeyFiles, parseConnectorConfig } from '../../src/ca/registry.js';
import { toPem } from '../../src/pki/base64.js';
import { scratch } from './openssl-tool.js';

const resolve = (f: string): string => (f.startsWith('/') ? f : `/home/estuary/${f}`);
const MINIMAL: Settings = { type: 'est', url: 'https://ca.example.net:8443', trustAnchors: ['upstream/root.pem'], auth: { basic: { user: 'ra@example.net', passwordFile: 'upstream/ra.password' } } };
const parse = (settings: Settings, id = 'corp'): EstCaConfig => parseConnectorConfig(settings, `cas.${id}`, resolve) as EstCaConfig;
const parseError = (settings: Settings, id = 'corp'): string => {
  try {
    parse(settings, id);
  } catch (err) {
    expect(err).toBeInstanceOf(ConnectorConfigError);
    return (err as Error).message;
  }
  throw new Error(`accepted: ${JSON.stringify(settings)}`);
};
const FINGERPRINT = 'AB:'.repeat(31) + 'AB';

const tmp = scratch('estuary-est-config-');
afterAll(() => tmp.cleanup());

describe('est connector: parseConfig', () => {
  it('the minimal settings, with every default; files resolved under the data directory', () => {
    expect(parse(MINIMAL)).toEqual({
      type: 'est',
      url: 'https://ca.example.net:8443',
      label: undefined,
      trustAnchors: ['/home/estuary/upstream/root.pem'],
      bootstrapFingerprint: undefined,
      auth: { basic: { user: 'ra@example.net', passwordFile: '/home/estuary/upstream/ra.password', passwordEnv: undefined }, certificate: undefined, key: undefined },
      reenroll: 'enroll',
      serverKeygen: 'forward',
      timeoutSeconds: 30,
      maxConnections: 8,
      refreshMinutes: 60,
      retryAfterSeconds: 30,
      cacheFile: '/home/estuary/ca/corp.upstream-cacerts.pem',
    });
  });

  it('every setting given', () => {
    const config = parse({
      type: 'est', url: 'https://ca.example.net/.well-known/est/servers', label: 'servers', bootstrapFingerprint: FINGERPRINT,
      auth: { basic: { user: 'ra', passwordEnv: 'UPSTREAM_PASSWORD' }, certificate: 'upstream/ra.pem', key: '/etc/ra.key' },
      reenroll: 'forward', serverKeygen: 'local', timeoutSeconds: 600, maxConnections: 256, refreshMinutes: 10_080, retryAfterSeconds: 86_400,
    }, 'up');
    expect(config).toEqual({
      type: 'est', url: 'https://ca.example.net/.well-known/est/servers', label: 'servers', trustAnchors: [], bootstrapFingerprint: FINGERPRINT,
      auth: { basic: { user: 'ra', passwordFile: undefined, passwordEnv: 'UPSTREAM_PASSWORD' }, certificate: '/home/estuary/upstream/ra.pem', key: '/etc/ra.key' },
      reenroll: 'forward', serverKeygen: 'local', timeoutSeconds: 600, maxConnections: 256, refreshMinutes: 10_080, retryAfterSeconds: 86_400,
      cacheFile: '/home/estuary/ca/up.upstream-cacerts.pem',
    });
    // the lower bounds
    expect(parse({ ...MINIMAL, timeoutSeconds: 1, maxConnections: 1, refreshMinutes: 1, retryAfterSeconds: 1 })).toMatchObject({ timeoutSeconds: 1, maxConnections: 1, refreshMinutes: 1, retryAfterSeconds: 1 });
    // TLS client authentication alone
    expect(parse({ ...MINIMAL, auth: { certificate: 'ra.pem', key: 'ra.key' } }).auth).toEqual({ basic: undefined, certificate: '/home/estuary/ra.pem', key: '/home/estuary/ra.key' });
  });

  it('names its secret files for the permission check: the RA key and the password file', () => {
    expect(connectorKeyFiles(parse({ ...MINIMAL, auth: { basic: { user: 'ra', passwordFile: 'pw' }, certificate: 'ra.pem', key: 'ra.key' } })))
      .toEqual(['/home/estuary/ra.key', '/home/estuary/pw']);
    expect(connectorKeyFiles(parse({ ...MINIMAL, auth: { basic: { user: 'ra', passwordEnv: 'PW' } } }))).toEqual([]);
  });

  const REFUSED: Array<[string, Settings, string]> = [
    ['an unknown setting', { ...MINIMAL, password: 'x' }, 'cas.corp.password: unknown setting (allowed: type, url, label, trustAnchors, bootstrapFingerprint, auth, reenroll, serverKeygen, timeoutSeconds, maxConnections, refreshMinutes, retryAfterSeconds)'],
    ['no url', { ...MINIMAL, url: undefined }, 'cas.corp.url: expected a non-empty string'],
    ['a url that is not one', { ...MINIMAL, url: 'ca.example.net' }, 'cas.corp.url: "ca.example.net" is not a URL (expected https://host[:port])'],
    ['plain http (RFC 7030 §3.3)', { ...MINIMAL, url: 'http://ca.example.net' }, 'cas.corp.url: the upstream EST server must be https:// (got http://)'],
    ['credentials in the url', { ...MINIMAL, url: 'https://ra:secret@ca.example.net' }, 'cas.corp.url: no query, fragment or credentials in the URL (credentials go under auth)'],
    ['a query in the url', { ...MINIMAL, url: 'https://ca.example.net/?x=1' }, 'cas.corp.url: no query, fragment or credentials in the URL (credentials go under auth)'],
    ['an empty label', { ...MINIMAL, label: '' }, 'cas.corp.label: expected a non-empty string'],
    ['trustAnchors not a list', { ...MINIMAL, trustAnchors: 'root.pem' }, 'cas.corp.trustAnchors: expected a list of file paths'],
    ['neither trustAnchors nor bootstrapFingerprint', { ...MINIMAL, trustAnchors: undefined }, 'cas.corp: give either trustAnchors (files with the upstream\'s CA certificates) or bootstrapFingerprint, to trust the upstream\'s TLS server certificate'],
    ['both trustAnchors and bootstrapFingerprint', { ...MINIMAL, bootstrapFingerprint: FINGERPRINT }, 'cas.corp: give either trustAnchors (files with the upstream\'s CA certificates) or bootstrapFingerprint, to trust the upstream\'s TLS server certificate'],
    ['no auth', { ...MINIMAL, auth: undefined }, 'cas.corp.auth: how the RA authenticates to the upstream CA is required (basic, certificate + key, or both)'],
    ['auth not a mapping', { ...MINIMAL, auth: 'basic' }, 'cas.corp.auth: expected a mapping'],
    ['an empty auth', { ...MINIMAL, auth: {} }, 'cas.corp.auth: give basic, certificate + key, or both'],
    ['an unknown auth setting', { ...MINIMAL, auth: { token: 'x' } }, 'cas.corp.auth.token: unknown setting (allowed: basic, certificate, key)'],
    ['basic not a mapping', { ...MINIMAL, auth: { basic: 'ra:secret' } }, 'cas.corp.auth.basic: expected a mapping with user and passwordFile or passwordEnv'],
    ['a password in the YAML', { ...MINIMAL, auth: { basic: { user: 'ra', password: 'secret' } } }, 'cas.corp.auth.basic.password: unknown setting (allowed: user, passwordFile, passwordEnv)'],
    ['basic without a password source', { ...MINIMAL, auth: { basic: { user: 'ra' } } }, 'cas.corp.auth.basic: give exactly one of passwordFile and passwordEnv'],
    ['basic with two password sources', { ...MINIMAL, auth: { basic: { user: 'ra', passwordFile: 'pw', passwordEnv: 'PW' } } }, 'cas.corp.auth.basic: give exactly one of passwordFile and passwordEnv'],
    ['basic without a user', { ...MINIMAL, auth: { basic: { passwordFile: 'pw' } } }, 'cas.corp.auth.basic.user: expected a non-empty string'],
    ['an empty passwordFile', { ...MINIMAL, auth: { basic: { user: 'ra', passwordFile: ' ' } } }, 'cas.corp.auth.basic.passwordFile: expected a non-empty string'],
    ['an empty passwordEnv', { ...MINIMAL, auth: { basic: { user: 'ra', passwordEnv: '' } } }, 'cas.corp.auth.basic.passwordEnv: expected a non-empty string'],
    ['a certificate without its key', { ...MINIMAL, auth: { certificate: 'ra.pem' } }, 'cas.corp.auth: certificate and key go together (the RA certificate and its private key)'],
    ['a key without its certificate', { ...MINIMAL, auth: { basic: { user: 'ra', passwordFile: 'pw' }, key: 'ra.key' } }, 'cas.corp.auth: certificate and key go together (the RA certificate and its private key)'],
    ['an empty certificate path', { ...MINIMAL, auth: { certificate: '', key: 'ra.key' } }, 'cas.corp.auth.certificate: expected a non-empty string'],
    ['reenroll neither enroll nor forward', { ...MINIMAL, reenroll: 'renew' }, 'cas.corp.reenroll: expected one of enroll, forward'],
    ['serverKeygen neither forward nor local', { ...MINIMAL, serverKeygen: true }, 'cas.corp.serverKeygen: expected one of forward, local'],
    ['timeoutSeconds 0', { ...MINIMAL, timeoutSeconds: 0 }, 'cas.corp.timeoutSeconds: expected a whole number from 1 to 600'],
    ['timeoutSeconds as text', { ...MINIMAL, timeoutSeconds: '30' }, 'cas.corp.timeoutSeconds: expected a whole number from 1 to 600'],
    ['maxConnections 257', { ...MINIMAL, maxConnections: 257 }, 'cas.corp.maxConnections: expected a whole number from 1 to 256'],
    ['refreshMinutes 1.5', { ...MINIMAL, refreshMinutes: 1.5 }, 'cas.corp.refreshMinutes: expected a whole number from 1 to 10080'],
    ['retryAfterSeconds past a day', { ...MINIMAL, retryAfterSeconds: 86_401 }, 'cas.corp.retryAfterSeconds: expected a whole number from 1 to 86400'],
  ];
  it.each(REFUSED)('refuses %s, naming the field', (_name, settings, message) => {
    expect(parseError(settings)).toBe(message);
  });

  it('refuses a bootstrap fingerprint that is not a SHA-256, naming the field', () => {
    expect(parseError({ ...MINIMAL, trustAnchors: undefined, bootstrapFingerprint: 'AB:CD' })).toMatch(/^cas\.corp\.bootstrapFingerprint: .+/);
    expect(parseError({ ...MINIMAL, trustAnchors: undefined, bootstrapFingerprint: 'zz'.repeat(32) })).toMatch(/^cas\.corp\.bootstrapFingerprint: .+/);
  });
});

describe('est connector: open', () => {
  const { root } = createCaHierarchy({ algorithm: 'ec-p256', rootName: 'CN=Config Root', issuingName: 'CN=Config Issuing', now: new Date(), random: randomBytes });
  const rootFile = tmp.write('root.pem', toPem('CERTIFICATE', root.der));
  const context = { now: () => new Date(), crlPublicUrl: undefined, ocsp: undefined, native: undefined, env: {} };
  const config = (settings: Settings): EstCaConfig => parseConnectorConfig({ ...MINIMAL, trustAnchors: [rootFile], ...settings }, 'cas.corp', (f) => (f.startsWith('/') ? f : tmp.path(f))) as EstCaConfig;
  const openError = (settings: Settings, env: NodeJS.ProcessEnv = {}): string => {
    try {
      const ca = estConnector.open('corp', config(settings), { ...context, env });
      (ca as unknown as { close(): void }).close();
    } catch (err) {
      expect(err).toBeInstanceOf(ConnectorConfigError);
      return (err as Error).message;
    }
    throw new Error('opened');
  };

  it('a password environment variable that is not set (or empty) is an error naming the field and the variable', () => {
    const auth = { basic: { user: 'ra', passwordEnv: 'ESTUARY_TEST_UPSTREAM_PASSWORD' } };
    expect(openError({ auth })).toBe('cas.corp.auth.basic.passwordEnv: the environment variable ESTUARY_TEST_UPSTREAM_PASSWORD is not set');
    expect(openError({ auth }, { ESTUARY_TEST_UPSTREAM_PASSWORD: '' })).toBe('cas.corp.auth.basic.passwordEnv: the environment variable ESTUARY_TEST_UPSTREAM_PASSWORD is not set');
  });

  it('files that cannot be read, or hold no certificate, are errors naming the field and the file', () => {
    expect(openError({ auth: { basic: { user: 'ra', passwordFile: 'missing.password' } } })).toBe(`cas.corp.auth.basic.passwordFile: cannot read ${tmp.path('missing.password')} (ENOENT)`);
    expect(openError({ trustAnchors: ['missing-root.pem'] })).toBe(`cas.corp.trustAnchors: cannot read ${tmp.path('missing-root.pem')} (ENOENT)`);
    const empty = tmp.write('empty.pem', 'no certificate here\n');
    expect(openError({ trustAnchors: [empty] })).toBe(`cas.corp.trustAnchors: no certificate found in ${empty}`);
    tmp.write('ra.password', 'secret\n');
    expect(openError({ auth: { basic: { user: 'ra', passwordFile: 'ra.password' }, certificate: 'missing-ra.pem', key: 'missing-ra.key' } })).toBe(`cas.corp.auth.certificate: cannot read ${tmp.path('missing-ra.pem')} (ENOENT)`);
  });
});
