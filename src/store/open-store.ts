/**
 * Opens the store the configuration names (config `database.type`), with profiles and accounts
 * cached in front of it (cached-store.ts). The composition root (src/cli/) opens every store here.
 */
import { withCache } from './cached-store.js';
import { openSqliteStore } from './sqlite-store.js';
import type { Store } from './store.js';

export type DatabaseConfig = { type: 'sqlite'; path: string };

export interface OpenStoreOptions {
  logger?: { warn(obj: object, msg?: string): void };
}

export async function openStore(database: DatabaseConfig, options: OpenStoreOptions = {}): Promise<Store> {
  switch (database.type) {
    case 'sqlite':
      return withCache(openSqliteStore(database.path, options.logger ? { logger: options.logger } : {}));
  }
}
