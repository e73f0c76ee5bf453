/** The database section: SQLite or PostgreSQL, ESTUARY_DATABASE_URL, password sources, errors naming the field. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, validateConfig } from '../../src/cli/config.js';
import { describeDatabase, postgresPassword, postgresStoreOptions, type PostgresDatabaseConfig } from '../../src/store/database-config.js';

const HOME = '/srv/estuary';
const withDb = (database: unknown) => ({ cas: { default: { certificate: 'ca/issuing.pem', key: 'ca/issuing-key.pem' } }, database });
const database = (db: unknown, env: NodeJS.ProcessEnv = {}) => validateConfig(withDb(db), HOME, env).database;

function configError(db: unknown, env: NodeJS.ProcessEnv = {}): string {
  try {
    validateConfig(withDb(db), HOME, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('database configuration', () => {
  it('selects PostgreSQL with its defaults', () => {
    const db = database({ type: 'postgres', url: 'postgres://estuary@db.example.net:5432/estuary' });
    expect(db).toEqual({ type: 'postgres', url: 'postgres://estuary@db.example.net:5432/estuary', passwordFile: undefined, passwordEnv: undefined, poolSize: 10, statementTimeoutSeconds: 10 });
    expect(JSON.stringify(db)).not.toContain('path');
  });

  it('resolves passwordFile against the home and takes pool settings', () => {
    expect(database({ type: 'postgres', url: 'postgresql://e@h/d', passwordFile: 'secrets/db.password', poolSize: 3, statementTimeoutSeconds: 2 }))
      .toMatchObject({ passwordFile: '/srv/estuary/secrets/db.password', poolSize: 3, statementTimeoutSeconds: 2 });
  });

  it('ESTUARY_DATABASE_URL overrides the YAML, even a SQLite section, and selects PostgreSQL', () => {
    const env = { ESTUARY_DATABASE_URL: 'postgres://estuary@10.0.0.5/estuary' };
    expect(database({ type: 'sqlite', path: 'estuary.db' }, env)).toMatchObject({ type: 'postgres', url: env.ESTUARY_DATABASE_URL });
    expect(database(undefined, env)).toMatchObject({ type: 'postgres', url: env.ESTUARY_DATABASE_URL, poolSize: 10 });
    expect(database({ type: 'postgres', url: 'postgres://a@b/c', passwordEnv: 'DBPW' }, env)).toMatchObject({ url: env.ESTUARY_DATABASE_URL, passwordEnv: 'DBPW' });
    expect(configError(undefined, { ESTUARY_DATABASE_URL: 'mysql://x@y/z' })).toBe('ESTUARY_DATABASE_URL: expected a postgres:// or postgresql:// URL, got a mysql: URL');
  });

  it('names the field of every mistake, and never shows a password', () => {
    expect(configError({ type: 'postgres' })).toBe('database.url: expected a postgres://user@host:port/database URL');
    expect(configError({ type: 'postgres', url: 'postgres://u:pw-secret@h' })).toBe('database.url: the URL names no database (postgres://user@host:port/database)');
    expect(configError({ type: 'postgres', url: 'http://h/d' })).toBe('database.url: expected a postgres:// or postgresql:// URL, got a http: URL');
    expect(configError({ type: 'postgres', url: 'postgres://h/d', path: 'x.db' })).toBe('database.path: unknown setting for type postgres (allowed: type, url, passwordFile, passwordEnv, poolSize, statementTimeoutSeconds)');
    expect(configError({ type: 'sqlite', url: 'postgres://h/d' })).toBe('database.url: unknown setting for type sqlite (allowed: type, path)');
    expect(configError({ type: 'postgres', url: 'postgres://h/d', passwordFile: 'a', passwordEnv: 'B' })).toBe('database.passwordFile: give passwordFile or passwordEnv, not both');
    expect(configError({ type: 'postgres', url: 'postgres://u:pw-secret@h/d', passwordEnv: 'B' })).toBe('database.passwordEnv: the URL already holds a password; give it in one place');
    expect(configError({ type: 'postgres', url: 'postgres://h/d', passwordEnv: 'not a name' })).toBe('database.passwordEnv: expected the name of an environment variable');
    expect(configError({ type: 'postgres', url: 'postgres://h/d', poolSize: 0 })).toBe('database.poolSize: expected an integer from 1 to 1000, got 0');
    expect(configError({ type: 'postgres', url: 'postgres://h/d', statementTimeoutSeconds: 'ten' })).toBe('database.statementTimeoutSeconds: expected an integer from 1 to 3600, got "ten"');
  });

  it('reads the password from its file or variable when the store opens', () => {
    const dir = mkdtempSync(join(tmpdir(), 'estuary-dbpw-'));
    try {
      writeFileSync(join(dir, 'db.password'), 'from-file\n');
      const fromFile = database({ type: 'postgres', url: 'postgres://e@h/d', passwordFile: join(dir, 'db.password') }) as PostgresDatabaseConfig;
      expect(postgresPassword(fromFile)).toBe('from-file');
      expect(postgresStoreOptions(fromFile)).toEqual({ password: 'from-file', poolSize: 10, statementTimeoutMs: 10_000 });
      const fromEnv = database({ type: 'postgres', url: 'postgres://e@h/d', passwordEnv: 'DBPW' }) as PostgresDatabaseConfig;
      expect(postgresPassword(fromEnv, { DBPW: 'from-env' })).toBe('from-env');
      expect(() => postgresPassword(fromEnv, {})).toThrow('database.passwordEnv: the environment variable DBPW is not set');
      const missing = database({ type: 'postgres', url: 'postgres://e@h/d', passwordFile: join(dir, 'nope') }) as PostgresDatabaseConfig;
      expect(() => postgresPassword(missing)).toThrow(/database.passwordFile: cannot read .*nope \(ENOENT\)/);
      expect(postgresStoreOptions(database({ type: 'postgres', url: 'postgres://e:inurl@h/d' }) as PostgresDatabaseConfig)).toEqual({ poolSize: 10, statementTimeoutMs: 10_000 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('describes a database for logs without its password', () => {
    expect(describeDatabase(database({ type: 'postgres', url: 'postgres://estuary:pw-secret@db.example.net:6432/est?sslmode=require' }))).toBe('postgres://estuary@db.example.net:6432/est');
    expect(describeDatabase(database({ path: 'x.db' }))).toBe('/srv/estuary/x.db');
  });
});
