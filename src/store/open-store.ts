/**
 * Opens the store the configuration names (config `database.type`), with profiles and accounts
 * cached in front of it (cached-store.ts). The composition root (src/cli/) opens every store here.
 */
import { withCache } from './cached-store.js';
import { postgresStoreOptions, type DatabaseConfig } from './database-config.js';
import { openPostgresStore } from './postgres-store.js';
import { openSqliteStore } from './sqlite-store.js';
import type { Store } from './store.js';

export type { DatabaseConfig } from './database-config.js';

export interface OpenStoreOptions {
  logger?: { warn(obj: object, msg?: string): void };
  /** Where passwordEnv is looked up (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export async function openStore(database: DatabaseConfig, options: OpenStoreOptions = {}): Promise<Store> {
  switch (database.type) {
    case 'sqlite':
      return withCache(openSqliteStore(database.path, options.logger ? { logger: options.logger } : {}));
    case 'postgres':
      return withCache(await openPostgresStore(database.url, { ...postgresStoreOptions(database, options.env ?? process.env), ...(options.logger ? { logger: options.logger } : {}) }));
  }
}
