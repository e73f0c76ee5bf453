/**
 * The migration 'self-service accounts' for both stores (each store's list names it in order;
 * never edit it once shipped, append another):
 * - accounts.self_service: an EST account whose holder may sign in to the Web RA to see and manage
 *   only the certificates requested with it (off by default);
 * - certificates by requester, newest first: the self-service list at any size.
 */
import type { PostgresMigration } from './postgres-migrations.js';
import type { SqliteMigration } from './sqlite-migrations.js';

const NAME = 'self-service accounts';

export const SQLITE_SELF_SERVICE: SqliteMigration = {
  name: NAME,
  sql: `
    ALTER TABLE accounts ADD COLUMN self_service INTEGER NOT NULL DEFAULT 0 CHECK (self_service IN (0, 1));
    CREATE INDEX certificates_requester_created ON certificates (requester, created_at);
  `,
};

export const POSTGRES_SELF_SERVICE: PostgresMigration = {
  name: NAME,
  sql: `
    ALTER TABLE accounts ADD COLUMN self_service boolean NOT NULL DEFAULT false;
    CREATE INDEX certificates_requester_created ON certificates (requester, created_at);
  `,
};
