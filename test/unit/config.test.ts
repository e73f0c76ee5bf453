/** estuary.yaml validation: defaults, and every error names its field. */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { localCaConfig } from '../../src/ca/registry.js';
import { adminBaseUrl, opsBaseUrl, ConfigError, DEFAULT_CONFIG_YAML, estBaseUrl, parseListen, validateConfig, type Config } from '../../src/cli/config.js';
import { sqlitePath } from '../helpers/home.js';

const HOME = '/srv/estuary';
const MINIMAL = { cas: { default: { certificate: 'ca/issuing.pem', key: 'ca/issuing-key.pem' } } };

function configError(doc: unknown, env: NodeJS.ProcessEnv = {}): string {
  try {
    validateConfig(doc, HOME, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

const withCa = (extra: Record<string, unknown>): Record<string, unknown> => ({ ...MINIMAL, ...extra });

describe('validateConfig defaults', () => {
  it('fills every default from a config with only a CA', () => {
    const c = validateConfig(MINIMAL, HOME);
    expect(c).toEqual({
      home: HOME,
      est: {
        listen: { host: '127.0.0.1', port: 8443 }, defaultProfile: 'default', publicUrl: undefined,
        authThrottle: { maxFailuresPerAccount: 10, maxFailuresPerAddress: 50, windowMinutes: 15, lockMinutes: 15 },
        maxPendingPerRequester: 10, maxCertificateBytes: 16384, serverKeygenConcurrency: 2, proxy: undefined,
      },
      keyFilePermissions: 'refuse',
      tls: { certificate: '/srv/estuary/tls/server.pem', key: '/srv/estuary/tls/server-key.pem' },
      database: { type: 'sqlite', path: '/srv/estuary/estuary.db' },
      cas: { default: { type: 'local', certificate: '/srv/estuary/ca/issuing.pem', key: '/srv/estuary/ca/issuing-key.pem', chain: [] } },
      crl: { listen: { host: '127.0.0.1', port: 8080 }, publicUrl: undefined, validityHours: 24, omitExpired: false, deltaValidityHours: undefined },
      ocsp: { publicUrl: undefined, signer: 'delegated', validityMinutes: 60 },
      admin: { listen: { host: '127.0.0.1', port: 8444 }, sessionIdleMinutes: 30, sessionAbsoluteHours: 12 },
      ops: { listen: { host: '127.0.0.1', port: 9090 } },
      log: { level: 'info' },
      limits: { requestTimeoutSeconds: 30, handshakeTimeoutSeconds: 10, maxConnectionsPerClient: 64, drainSeconds: 10 },
      webhooks: {
        settings: { maxAttempts: 8, timeoutMs: 10_000, retryBaseMs: 30_000, retryMaxMs: 3_600_000, pollMs: 2_000, scanMs: 3_600_000, expiringDays: [30, 7], batch: 16, retentionMs: 30 * 86_400_000, ca: undefined },
        secretKeyFile: '/srv/estuary/webhooks.key',
      },
    } satisfies Config);
  });

  it('reads the webhook settings and names bad fields', () => {
    const c = validateConfig(withCa({ webhooks: { maxAttempts: 3, retrySeconds: 0.5, expiringDays: [7, 30, 7], secretKeyFile: '/etc/estuary/hooks.key' } }), HOME);
    expect(c.webhooks.settings).toMatchObject({ maxAttempts: 3, retryBaseMs: 500, expiringDays: [30, 7] });
    expect(c.webhooks.secretKeyFile).toBe('/etc/estuary/hooks.key');
    expect(() => validateConfig(withCa({ webhooks: { maxAttempts: 0 } }), HOME)).toThrow(/^webhooks.maxAttempts: expected an integer from 1 to 100/);
    expect(() => validateConfig(withCa({ webhooks: { expiringDays: [0] } }), HOME)).toThrow(/^webhooks.expiringDays: /);
    expect(() => validateConfig(withCa({ webhooks: { trustAnchors: 'missing.pem' } }), HOME)).toThrow(/^webhooks.trustAnchors: cannot read/);
    expect(() => validateConfig(withCa({ webhooks: { retries: 1 } }), HOME)).toThrow(/^webhooks.retries: unknown setting/);
  });

  it('reads the EST throttle, caps and key file settings, naming bad fields', () => {
    const c = validateConfig(withCa({ est: { authThrottle: { maxFailuresPerAccount: 3, lockMinutes: 1 }, maxPendingPerRequester: 2 }, keyFilePermissions: 'warn' }), HOME);
    expect(c.est.authThrottle).toEqual({ maxFailuresPerAccount: 3, maxFailuresPerAddress: 50, windowMinutes: 15, lockMinutes: 1 });
    expect(c.est.maxPendingPerRequester).toBe(2);
    expect(c.keyFilePermissions).toBe('warn');
    expect(() => validateConfig(withCa({ est: { authThrottle: { maxFailuresPerAccount: 0 } } }), HOME)).toThrow(/^est.authThrottle.maxFailuresPerAccount: /);
    expect(() => validateConfig(withCa({ est: { authThrottle: { tries: 1 } } }), HOME)).toThrow(/^est.authThrottle.tries: unknown setting/);
    expect(() => validateConfig(withCa({ keyFilePermissions: 'ignore' }), HOME)).toThrow(/^keyFilePermissions: expected refuse or warn/);
  });

  it('reads est.serverKeygenConcurrency (1 to 64)', () => {
    expect(validateConfig(withCa({ est: { serverKeygenConcurrency: 8 } }), HOME).est.serverKeygenConcurrency).toBe(8);
    expect(() => validateConfig(withCa({ est: { serverKeygenConcurrency: 0 } }), HOME)).toThrow(/^est.serverKeygenConcurrency: /);
  });

  it('reads the listener limits and names bad fields', () => {
    const c = validateConfig(withCa({ limits: { requestTimeoutSeconds: 5, handshakeTimeoutSeconds: 2, maxConnectionsPerClient: 0, drainSeconds: 1 } }), HOME);
    expect(c.limits).toEqual({ requestTimeoutSeconds: 5, handshakeTimeoutSeconds: 2, maxConnectionsPerClient: 0, drainSeconds: 1 });
    expect(() => validateConfig(withCa({ limits: { requestTimeoutSeconds: 0 } }), HOME)).toThrow(/^limits.requestTimeoutSeconds: expected an integer from 1 to 3600/);
    expect(() => validateConfig(withCa({ limits: { drainSeconds: 'soon' } }), HOME)).toThrow(/^limits.drainSeconds: /);
    expect(() => validateConfig(withCa({ limits: { bodyBytes: 1 } }), HOME)).toThrow(/^limits.bodyBytes: unknown setting/);
  });

  it('reads the CRL settings, "off", the env override and names bad fields', () => {
    const c = validateConfig(withCa({ crl: { listen: 'off', publicUrl: 'http://pki.example.com/crl/', validityHours: 12 } }), HOME);
    expect(c.crl).toEqual({ listen: undefined, publicUrl: 'http://pki.example.com/crl', validityHours: 12, omitExpired: false, deltaValidityHours: undefined });
    expect(validateConfig(MINIMAL, HOME, { ESTUARY_CRL_LISTEN: '127.0.0.1:0' }).crl.listen).toEqual({ host: '127.0.0.1', port: 0 });
    expect(() => validateConfig(withCa({ crl: { validityHours: 0 } }), HOME)).toThrow(/^crl.validityHours: /);
    expect(() => validateConfig(withCa({ crl: { publicUrl: 'ldap://x' } }), HOME)).toThrow(/^crl.publicUrl: /);
    expect(() => validateConfig(withCa({ crl: { listen: 'x' } }), HOME)).toThrow(/^crl.listen: /);
    expect(() => validateConfig(MINIMAL, HOME, { ESTUARY_CRL_LISTEN: 'x' })).toThrow(/^ESTUARY_CRL_LISTEN: /);
    expect(() => validateConfig(withCa({ crl: { colour: 1 } }), HOME)).toThrow(/^crl.colour: unknown setting/);
  });

  it('reads the expired-entry, delta CRL and OCSP settings and names bad fields', () => {
    const c = validateConfig(withCa({ crl: { validityHours: 12, omitExpired: true, deltaValidityHours: 2 }, ocsp: { publicUrl: 'http://pki.example.com/ocsp/', signer: 'ca', validityMinutes: 30 } }), HOME);
    expect(c.crl).toMatchObject({ omitExpired: true, deltaValidityHours: 2 });
    expect(c.ocsp).toEqual({ publicUrl: 'http://pki.example.com/ocsp', signer: 'ca', validityMinutes: 30 });
    expect(() => validateConfig(withCa({ crl: { omitExpired: 'yes' } }), HOME)).toThrow(/^crl.omitExpired: /);
    expect(() => validateConfig(withCa({ crl: { validityHours: 12, deltaValidityHours: 13 } }), HOME)).toThrow(/^crl.deltaValidityHours: /);
    expect(() => validateConfig(withCa({ ocsp: { signer: 'hsm' } }), HOME)).toThrow(/^ocsp.signer: /);
    expect(() => validateConfig(withCa({ ocsp: { publicUrl: 'ldap://x' } }), HOME)).toThrow(/^ocsp.publicUrl: /);
    expect(() => validateConfig(withCa({ ocsp: { validityMinutes: 0 } }), HOME)).toThrow(/^ocsp.validityMinutes: /);
  });

  it('reads the operations listener, "off", the env override and names bad fields', () => {
    expect(validateConfig(withCa({ ops: { listen: '0.0.0.0:9191' } }), HOME).ops).toEqual({ listen: { host: '0.0.0.0', port: 9191 } });
    expect(validateConfig(withCa({ ops: { listen: 'off' } }), HOME).ops.listen).toBeUndefined();
    expect(validateConfig(MINIMAL, HOME, { ESTUARY_OPS_LISTEN: 'off' }).ops.listen).toBeUndefined();
    expect(validateConfig(withCa({ ops: { listen: 'off' } }), HOME, { ESTUARY_OPS_LISTEN: '127.0.0.1:0' }).ops.listen).toEqual({ host: '127.0.0.1', port: 0 });
    expect(() => validateConfig(MINIMAL, HOME, { ESTUARY_OPS_LISTEN: 'x' })).toThrow(/^ESTUARY_OPS_LISTEN: /);
    expect(() => validateConfig(withCa({ ops: { listen: 'x' } }), HOME)).toThrow(/^ops.listen: /);
    expect(() => validateConfig(withCa({ ops: { port: 9090 } }), HOME)).toThrow(/^ops.port: unknown setting/);
    expect(opsBaseUrl({ host: '0.0.0.0', port: 9090 })).toBe('http://localhost:9090');
    expect(opsBaseUrl({ host: '::1', port: 0 }, 9191)).toBe('http://[::1]:9191');
  });

  it('reads the Web RA settings, "off", the env override and names bad fields', () => {
    const c = validateConfig(withCa({ admin: { listen: '0.0.0.0:9444', sessionIdleMinutes: 5, sessionAbsoluteHours: 2 } }), HOME);
    expect(c.admin).toEqual({ listen: { host: '0.0.0.0', port: 9444 }, sessionIdleMinutes: 5, sessionAbsoluteHours: 2 });
    expect(adminBaseUrl(c.admin.listen!)).toBe('https://localhost:9444/');
    expect(adminBaseUrl({ host: '::1', port: 0 }, 8444)).toBe('https://[::1]:8444/');
    expect(validateConfig(withCa({ admin: { listen: 'off' } }), HOME).admin.listen).toBeUndefined();
    expect(validateConfig(MINIMAL, HOME, { ESTUARY_ADMIN_LISTEN: 'off' }).admin.listen).toBeUndefined();
    expect(validateConfig(MINIMAL, HOME, { ESTUARY_ADMIN_LISTEN: '127.0.0.1:0' }).admin.listen).toEqual({ host: '127.0.0.1', port: 0 });
    expect(() => validateConfig(MINIMAL, HOME, { ESTUARY_ADMIN_LISTEN: 'x' })).toThrow(/^ESTUARY_ADMIN_LISTEN: /);
    expect(() => validateConfig(withCa({ admin: { listen: 'x' } }), HOME)).toThrow(/^admin.listen: /);
    expect(() => validateConfig(withCa({ admin: { sessionIdleMinutes: 0 } }), HOME)).toThrow(/^admin.sessionIdleMinutes: expected an integer from 1 to 1440/);
    expect(() => validateConfig(withCa({ admin: { sessionAbsoluteHours: 'long' } }), HOME)).toThrow(/^admin.sessionAbsoluteHours: /);
    expect(() => validateConfig(withCa({ admin: { theme: 'dark' } }), HOME)).toThrow(/^admin.theme: unknown setting/);
    // sign-in with a client certificate: the CA bundle, relative to the home
    expect(validateConfig(withCa({ admin: { clientCertificateCa: 'operators-ca.pem' } }), HOME).admin.clientCertificateCa).toBe('/srv/estuary/operators-ca.pem');
    expect(validateConfig(withCa({ admin: { clientCertificateCa: '/etc/pki/ops.pem' } }), HOME).admin.clientCertificateCa).toBe('/etc/pki/ops.pem');
    expect(() => validateConfig(withCa({ admin: { clientCertificateCa: '' } }), HOME)).toThrow(/^admin.clientCertificateCa: expected a non-empty string/);
  });

  it('accepts the shipped default configuration file', () => {
    const c = validateConfig(parse(DEFAULT_CONFIG_YAML), HOME);
    expect(c.est.listen).toEqual({ host: '127.0.0.1', port: 8443 });
    expect(localCaConfig(c.cas.default, 'default').chain).toEqual(['/srv/estuary/ca/root.pem']);
    expect(c.admin).toEqual({ listen: { host: '127.0.0.1', port: 8444 }, sessionIdleMinutes: 30, sessionAbsoluteHours: 12 });
  });

  it('keeps absolute paths and resolves relative ones against home', () => {
    const c = validateConfig(withCa({ database: { path: '/var/lib/estuary.db' }, tls: { certificate: 'x/cert.pem', key: '/etc/k.pem' } }), HOME);
    expect(sqlitePath(c)).toBe('/var/lib/estuary.db');
    expect(c.tls).toEqual({ certificate: '/srv/estuary/x/cert.pem', key: '/etc/k.pem' });
  });

  it('reads every log level', () => {
    for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) {
      expect(validateConfig(withCa({ log: { level } }), HOME).log.level).toBe(level);
    }
  });
});

describe('validateConfig errors name their field', () => {
  it('the document must be a mapping', () => {
    for (const doc of [null, 'text', 42, []]) expect(configError(doc)).toBe('the configuration must be a YAML mapping');
  });

  it('an unknown key at the top level', () => {
    expect(configError(withCa({ listen: '0.0.0.0:8443' }))).toBe('listen: unknown setting (allowed: est, tls, database, cas, crl, ocsp, admin, ops, log, limits, keyFilePermissions, webhooks)');
  });

  it('an unknown key in a section', () => {
    expect(configError(withCa({ est: { port: 1 } }))).toMatch(/^est\.port: unknown setting/);
    expect(configError(withCa({ tls: { ca: 'x' } }))).toMatch(/^tls\.ca: unknown setting/);
    expect(configError(withCa({ log: { format: 'json' } }))).toMatch(/^log\.format: unknown setting/);
    expect(configError({ cas: { default: { certificate: 'a', key: 'b', password: 'x' } } })).toMatch(/^cas\.default\.password: unknown setting/);
  });

  it('a section that is not a mapping', () => {
    expect(configError(withCa({ est: 'x' }))).toBe('est: expected a mapping');
    expect(configError(withCa({ log: ['info'] }))).toBe('log: expected a mapping');
  });

  it('est.listen malformed', () => {
    for (const listen of ['8443', 'localhost', '127.0.0.1:', ':8443', '127.0.0.1:70000', '127.0.0.1:84a3', '::1:8443', '[::1]']) {
      expect(configError(withCa({ est: { listen } }))).toBe(`est.listen: expected host:port (e.g. 127.0.0.1:8443), got "${listen}"`);
    }
    expect(configError(withCa({ est: { listen: 8443 } }))).toBe('est.listen: expected a non-empty string');
  });

  it('ESTUARY_EST_LISTEN overrides est.listen', () => {
    const c = validateConfig(withCa({ est: { listen: '127.0.0.1:8443' } }), HOME, { ESTUARY_EST_LISTEN: '0.0.0.0:9443' });
    expect(c.est.listen).toEqual({ host: '0.0.0.0', port: 9443 });
  });

  it('a malformed ESTUARY_EST_LISTEN names ESTUARY_EST_LISTEN, not est.listen', () => {
    expect(configError(MINIMAL, { ESTUARY_EST_LISTEN: 'nonsense' })).toBe('ESTUARY_EST_LISTEN: expected host:port (e.g. 127.0.0.1:8443), got "nonsense"');
    // even when the file's own est.listen is also malformed: the override wins
    expect(configError(withCa({ est: { listen: 'bad' } }), { ESTUARY_EST_LISTEN: 'also-bad' })).toMatch(/^ESTUARY_EST_LISTEN: /);
  });

  it('an empty ESTUARY_EST_LISTEN is ignored or blamed on ESTUARY_EST_LISTEN, never on est.listen', () => {
    const doc = withCa({ est: { listen: '127.0.0.1:9000' } });
    let outcome: string;
    try {
      outcome = JSON.stringify(validateConfig(doc, HOME, { ESTUARY_EST_LISTEN: '' }).est.listen);
    } catch (err) {
      outcome = (err as Error).message;
    }
    // today: 'est.listen: expected host:port (e.g. 127.0.0.1:8443), got ""' although est.listen is valid
    expect(outcome).toMatch(/^(\{"host":"127\.0\.0\.1","port":9000\}|ESTUARY_EST_LISTEN: .*)$/);
  });

  it('est.publicUrl must be https', () => {
    expect(configError(withCa({ est: { publicUrl: 'http://est.example.com' } }))).toBe('est.publicUrl: expected an https:// URL, got "http://est.example.com"');
    expect(configError(withCa({ est: { publicUrl: '' } }))).toBe('est.publicUrl: expected a non-empty string');
  });

  it('log.level invalid', () => {
    expect(configError(withCa({ log: { level: 'verbose' } }))).toBe('log.level: expected one of fatal, error, warn, info, debug, trace, silent, got "verbose"');
  });

  it('database.type unsupported', () => {
    expect(configError(withCa({ database: { type: 'mysql' } }))).toBe('database.type: "mysql" is not supported (supported: sqlite, postgres)');
  });

  it('database.path empty', () => {
    expect(configError(withCa({ database: { path: ' ' } }))).toBe('database.path: expected a non-empty string');
  });

  it('cas empty or missing', () => {
    expect(configError({})).toBe('cas: at least one CA connector is required');
    expect(configError({ cas: {} })).toBe('cas: at least one CA connector is required');
    expect(configError({ cas: [] })).toBe('cas: expected a mapping');
  });

  it('cas.X.type unknown', () => {
    expect(configError({ cas: { upstream: { type: 'scep', url: 'https://x' } } })).toBe('cas.upstream.type: "scep" is not a known CA connector type (known: local, est)');
  });

  it('cas.X fields', () => {
    expect(configError({ cas: { default: { key: 'k' } } })).toBe('cas.default.certificate: expected a non-empty string');
    expect(configError({ cas: { default: { certificate: 'c' } } })).toBe('cas.default.key: expected a non-empty string');
    expect(configError({ cas: { default: { certificate: 'c', key: 'k', chain: 'root.pem' } } })).toBe('cas.default.chain: expected a list of file paths');
    expect(configError({ cas: { default: null } })).toBe('cas.default: expected a mapping');
    expect(configError({ cas: { 'bad id!': { certificate: 'c', key: 'k' } } })).toBe('cas.bad id!: a CA id is letters, digits, _ and - only');
  });
});

describe('parseListen', () => {
  it('reads IPv4, names and bracketed IPv6', () => {
    expect(parseListen('0.0.0.0:443', 'f')).toEqual({ host: '0.0.0.0', port: 443 });
    expect(parseListen(' est.example.com:8443 ', 'f')).toEqual({ host: 'est.example.com', port: 8443 });
    expect(parseListen('[::1]:8443', 'f')).toEqual({ host: '::1', port: 8443 });
    expect(parseListen('[::]:0', 'f')).toEqual({ host: '::', port: 0 });
    expect(parseListen('127.0.0.1:65535', 'f').port).toBe(65535);
    expect(() => parseListen('127.0.0.1:65536', 'my.field')).toThrow(/^my\.field: /);
  });
});

describe('estBaseUrl', () => {
  const cfg = (est: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): Config => validateConfig(withCa({ est }), HOME, env);

  it('uses publicUrl when set, without doubling slashes', () => {
    expect(estBaseUrl(cfg({ publicUrl: 'https://est.example.com' }))).toBe('https://est.example.com/.well-known/est');
    expect(estBaseUrl(cfg({ publicUrl: 'https://est.example.com:9443/tenant/' }))).toBe('https://est.example.com:9443/tenant/.well-known/est');
  });

  it('uses the listen address, with localhost for a wildcard', () => {
    expect(estBaseUrl(cfg({ listen: '127.0.0.1:8443' }))).toBe('https://127.0.0.1:8443/.well-known/est');
    expect(estBaseUrl(cfg({ listen: '0.0.0.0:9443' }))).toBe('https://localhost:9443/.well-known/est');
    expect(estBaseUrl(cfg({ listen: '[::]:9443' }))).toBe('https://localhost:9443/.well-known/est');
  });

  it('brackets an IPv6 listen address', () => {
    expect(estBaseUrl(cfg({ listen: '[::1]:8443' }))).toBe('https://[::1]:8443/.well-known/est');
    expect(estBaseUrl(cfg({ listen: '[fe80::1]:8443' }))).toBe('https://[fe80::1]:8443/.well-known/est');
  });

  it('takes the actual port when the listener was bound to :0', () => {
    expect(estBaseUrl(cfg({ listen: '127.0.0.1:0' }), 40123)).toBe('https://127.0.0.1:40123/.well-known/est');
  });
});
