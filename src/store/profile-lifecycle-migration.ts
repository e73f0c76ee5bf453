/**
 * Migration 'profile lifecycle: validity in seconds, retirement', for both stores (sqlite- and
 * postgres-migrations.ts each list it once, in order; never edit it once shipped, append another).
 *
 * - `validity_seconds`: a profile's validity exactly, so certificates can live hours or minutes.
 *   Filled from `validity_days` here; `validity_days` stays and is still written (whole days, at
 *   least one) for instances of an older version sharing the database, and a row such an instance
 *   writes (validity_seconds NULL) is read in days.
 * - `retired_at`: a retired profile stops enrolling but stays for the certificates it issued.
 */
import type { PostgresMigration } from './postgres-migrations.js';
import type { SqliteMigration } from './sqlite-migrations.js';

const NAME = 'profile lifecycle: validity in seconds, retirement';

export const PROFILE_LIFECYCLE_SQLITE: SqliteMigration = {
  name: NAME,
  sql: `
    ALTER TABLE profiles ADD COLUMN validity_seconds INTEGER;
    UPDATE profiles SET validity_seconds = CAST(ROUND(validity_days * 86400) AS INTEGER);
    ALTER TABLE profiles ADD COLUMN retired_at TEXT;
  `,
};

export const PROFILE_LIFECYCLE_POSTGRES: PostgresMigration = {
  name: NAME,
  sql: `
    ALTER TABLE profiles ADD COLUMN validity_seconds integer;
    UPDATE profiles SET validity_seconds = validity_days * 86400;
    ALTER TABLE profiles ADD COLUMN retired_at timestamptz;
  `,
};
