/**
 * Migration "profile approvals": how many officers must approve a held request on a profile
 * (1, or 2 for four-eyes approval). Kept apart from the other profile migrations so they can be
 * ordered freely. sqlite-migrations.ts and postgres-migrations.ts list it; never edit it once shipped.
 */
import type { PostgresMigration } from './postgres-migrations.js';
import type { SqliteMigration } from './sqlite-migrations.js';

const NAME = 'profile approvals: four-eyes approval';

export const SQLITE_PROFILE_APPROVALS: SqliteMigration = {
  name: NAME,
  sql: 'ALTER TABLE profiles ADD COLUMN approvals INTEGER NOT NULL DEFAULT 1 CHECK (approvals IN (1, 2));',
};

export const POSTGRES_PROFILE_APPROVALS: PostgresMigration = {
  name: NAME,
  sql: 'ALTER TABLE profiles ADD COLUMN approvals integer NOT NULL DEFAULT 1 CHECK (approvals IN (1, 2));',
};
