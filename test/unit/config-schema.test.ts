/**
 * The parts of estuary.yaml that their own modules validate (database, est.proxy, cas.<id>) are
 * documented in the schema with exactly the settings those modules accept.
 */
import { describe, expect, it } from 'vitest';
import { parseConnectorConfig } from '../../src/ca/registry.js';
import { CaConnectorSchema, ConfigSchema, DatabaseSchema, ProxySchema } from '../../src/cli/config-schema.js';
import { parseProxySettings } from '../../src/est/proxy-trust.js';
import { parseDatabaseConfig } from '../../src/store/database-config.js';

/** The "(allowed: a, b)" list of the error a parser gives for an unknown setting. */
function allowed(parse: () => unknown): string[] {
  try {
    parse();
  } catch (err) {
    const m = /unknown setting.*\(allowed: ([^)]*)\)/.exec((err as Error).message);
    if (m) return m[1]!.split(', ');
    throw err;
  }
  throw new Error('accepted an unknown setting');
}

const keys = (schema: { properties: object }): string[] => Object.keys(schema.properties).sort();
const resolve = (p: string): string => p;

describe('estuary.yaml schema and the modules that validate parts of it', () => {
  it('database: the settings of sqlite and postgres', () => {
    const sqlite = allowed(() => parseDatabaseConfig({ type: 'sqlite', bogus: 1 }, resolve, {}));
    const postgres = allowed(() => parseDatabaseConfig({ type: 'postgres', url: 'postgres://h/d', bogus: 1 }, resolve, {}));
    expect(keys(DatabaseSchema)).toEqual([...new Set([...sqlite, ...postgres])].sort());
  });

  it('est.proxy', () => {
    expect(keys(ProxySchema)).toEqual(allowed(() => parseProxySettings({ bogus: 1 }, 'est.proxy')).sort());
  });

  it('cas.<id>: the settings of the local and est connector types', () => {
    const local = allowed(() => parseConnectorConfig({ type: 'local', bogus: 1 }, 'cas.x', resolve));
    const est = allowed(() => parseConnectorConfig({ type: 'est', bogus: 1 }, 'cas.x', resolve));
    expect(keys(CaConnectorSchema)).toEqual([...new Set([...local, ...est])].sort());
  });

  it('every section refuses unknown settings, and every setting has a description', () => {
    const walk = (node: Record<string, unknown>, at: string): void => {
      if (at !== '' && typeof node.description !== 'string') throw new Error(`${at}: no description`);
      const props = node.properties as Record<string, Record<string, unknown>> | undefined;
      if (props) {
        if (node.additionalProperties !== false) throw new Error(`${at}: additionalProperties is not false`);
        for (const [k, v] of Object.entries(props)) walk(v, at ? `${at}.${k}` : k);
      }
      const pattern = node.patternProperties as Record<string, Record<string, unknown>> | undefined;
      for (const v of Object.values(pattern ?? {})) walk(v, `${at}.<id>`);
    };
    expect(() => walk(ConfigSchema as unknown as Record<string, unknown>, '')).not.toThrow();
  });
});

describe('settings written without a value', () => {
  it('a number or true/false without a value takes its default, as before; a string or section without one is refused', async () => {
    const { validateConfig } = await import('../../src/cli/config.js');
    const doc = { cas: { default: { certificate: 'c.pem', key: 'k.pem' } }, crl: { validityHours: null, omitExpired: null }, limits: { drainSeconds: null } };
    const c = validateConfig(doc, '/srv');
    expect(c.crl).toMatchObject({ validityHours: 24, omitExpired: false });
    expect(c.limits.drainSeconds).toBe(10);
    expect(() => validateConfig({ ...doc, log: { level: null } }, '/srv')).toThrow(/^log\.level: expected one of/);
    expect(() => validateConfig({ ...doc, ocsp: null }, '/srv')).toThrow(/^ocsp: expected a mapping/);
  });
});
