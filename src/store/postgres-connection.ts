/** Connection settings of the PostgreSQL store: the options it takes and the pg client configuration. */
import type pg from 'pg';

export interface PostgresStoreOptions {
  logger?: { warn(obj: object, msg?: string): void };
  /** Clock for created/updated timestamps and default audit times. */
  now?: () => Date;
  /** Connections in the pool (default 10); callers beyond it queue. */
  poolSize?: number;
  /** Server-side limit per statement (default 10000 ms); a statement past it fails with StoreUnavailableError. */
  statementTimeoutMs?: number;
  /** How long to wait for a connection (default 5000 ms). */
  connectTimeoutMs?: number;
  /** The password when it is not in the URL (config passwordFile / passwordEnv). */
  password?: string;
  /** Batches of issuances and audit events committing at once (default 4, at most poolSize - 1; see postgres-batch.ts). */
  groupCommit?: number;
}

/** The connection settings for `url`, with `password` set in it when given. */
export function postgresConfig(url: string, options: PostgresStoreOptions = {}): pg.ClientConfig {
  let connectionString = url;
  if (options.password !== undefined) {
    const u = new URL(url);
    u.password = encodeURIComponent(options.password);
    connectionString = u.toString();
  }
  return {
    connectionString,
    statement_timeout: options.statementTimeoutMs ?? 10_000,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    application_name: 'estuary',
    keepAlive: true,
  };
}

