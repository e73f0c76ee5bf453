/**
 * The `database` section of estuary.yaml: embedded SQLite (default) or PostgreSQL for several
 * instances. ESTUARY_DATABASE_URL (postgres://…) overrides the YAML and selects PostgreSQL; the
 * section's other PostgreSQL settings (password source, pool) still apply.
 *
 *   database:
 *     type: postgres
 *     url: postgres://estuary@db.example.net:5432/estuary?sslmode=verify-full
 *     passwordFile: secrets/db.password      # or passwordEnv: NAME, or the password in the URL
 *     poolSize: 10
 *     statementTimeoutSeconds: 10
 *
 * The password is read when the store opens (postgresPassword), never kept in the Config, never
 * logged; describeDatabase gives a loggable name.
 */
import { readSecret } from '../ca/connectors/config-fields.js';

export interface SqliteDatabaseConfig {
  type: 'sqlite';
  path: string;
}

export interface PostgresDatabaseConfig {
  type: 'postgres';
  /** postgres:// or postgresql:// URL; it may hold the password itself. */
  url: string;
  passwordFile: string | undefined;
  passwordEnv: string | undefined;
  poolSize: number;
  statementTimeoutSeconds: number;
}

export type DatabaseConfig = SqliteDatabaseConfig | PostgresDatabaseConfig;

type Obj = Record<string, unknown>;

/** Thrown with the field's name; cli/config.ts turns it into a ConfigError. */
export class DatabaseConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseConfigError';
  }
}

const SQLITE_KEYS = ['type', 'path'];
const POSTGRES_KEYS = ['type', 'url', 'passwordFile', 'passwordEnv', 'poolSize', 'statementTimeoutSeconds'];

function text(obj: Obj, key: string): string | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.trim() === '') throw new DatabaseConfigError(`database.${key}: expected a non-empty string`);
  return v;
}

function integer(obj: Obj, key: string, fallback: number, min: number, max: number): number {
  const v = obj[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new DatabaseConfigError(`database.${key}: expected an integer from ${min} to ${max}, got ${JSON.stringify(obj[key])}`);
  }
  return v;
}

/** A postgres URL, checked; the message names `field` and never shows the password. */
export function postgresUrl(value: string, field: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new DatabaseConfigError(`${field}: expected a postgres://user@host:port/database URL`);
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new DatabaseConfigError(`${field}: expected a postgres:// or postgresql:// URL, got a ${u.protocol.replace(/:$/, '')}: URL`);
  }
  if (!u.hostname && !u.searchParams.get('host')) throw new DatabaseConfigError(`${field}: the URL names no host`);
  if (u.pathname.replace(/^\//, '') === '') throw new DatabaseConfigError(`${field}: the URL names no database (postgres://user@host:port/database)`);
  return value;
}

export function parseDatabaseConfig(db: Obj, resolve: (p: string) => string, env: NodeJS.ProcessEnv): DatabaseConfig {
  const envUrl = env.ESTUARY_DATABASE_URL;
  const type = envUrl ? 'postgres' : (text(db, 'type') ?? 'sqlite');
  if (type === 'sqlite') {
    for (const k of Object.keys(db)) {
      if (!SQLITE_KEYS.includes(k)) throw new DatabaseConfigError(`database.${k}: unknown setting for type sqlite (allowed: ${SQLITE_KEYS.join(', ')})`);
    }
    return { type: 'sqlite', path: resolve(text(db, 'path') ?? 'estuary.db') };
  }
  if (type !== 'postgres') throw new DatabaseConfigError(`database.type: "${type}" is not supported (supported: sqlite, postgres)`);
  for (const k of Object.keys(db)) {
    // with ESTUARY_DATABASE_URL, a YAML written for SQLite (type, path) is overridden, not an error
    if (envUrl && (k === 'path' || k === 'type')) continue;
    if (!POSTGRES_KEYS.includes(k)) throw new DatabaseConfigError(`database.${k}: unknown setting for type postgres (allowed: ${POSTGRES_KEYS.join(', ')})`);
  }
  const url = envUrl ? postgresUrl(envUrl, 'ESTUARY_DATABASE_URL') : postgresUrl(text(db, 'url') ?? '', 'database.url');
  const passwordFile = text(db, 'passwordFile');
  const passwordEnv = text(db, 'passwordEnv');
  if (passwordFile !== undefined && passwordEnv !== undefined) throw new DatabaseConfigError('database.passwordFile: give passwordFile or passwordEnv, not both');
  if ((passwordFile !== undefined || passwordEnv !== undefined) && new URL(url).password !== '') {
    throw new DatabaseConfigError(`database.${passwordFile !== undefined ? 'passwordFile' : 'passwordEnv'}: the URL already holds a password; give it in one place`);
  }
  if (passwordEnv !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(passwordEnv)) {
    throw new DatabaseConfigError('database.passwordEnv: expected the name of an environment variable');
  }
  return {
    type: 'postgres',
    url,
    passwordFile: passwordFile === undefined ? undefined : resolve(passwordFile),
    passwordEnv,
    poolSize: integer(db, 'poolSize', 10, 1, 1000),
    statementTimeoutSeconds: integer(db, 'statementTimeoutSeconds', 10, 1, 3600),
  };
}

/** The password from passwordFile or passwordEnv (undefined: in the URL, or none). */
export function postgresPassword(db: PostgresDatabaseConfig, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (db.passwordEnv === undefined && db.passwordFile === undefined) return undefined;
  try {
    return readSecret({ file: db.passwordFile, env: db.passwordEnv }, 'database.passwordFile', 'database.passwordEnv', env);
  } catch (err) {
    throw new DatabaseConfigError((err as Error).message);
  }
}

/** The options openPostgresStore takes from this configuration (the password read now). */
export function postgresStoreOptions(db: PostgresDatabaseConfig, env: NodeJS.ProcessEnv = process.env): { password?: string; poolSize: number; statementTimeoutMs: number } {
  const password = postgresPassword(db, env);
  return { ...(password !== undefined ? { password } : {}), poolSize: db.poolSize, statementTimeoutMs: db.statementTimeoutSeconds * 1000 };
}

/** For logs and messages: the SQLite path, or host:port/database of PostgreSQL without the password. */
export function describeDatabase(db: DatabaseConfig): string {
  if (db.type === 'sqlite') return db.path;
  const u = new URL(db.url);
  return `postgres://${u.username ? `${decodeURIComponent(u.username)}@` : ''}${u.host}${u.pathname}`;
}
