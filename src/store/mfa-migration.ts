/**
 * The migration 'second factor' (SQLite and PostgreSQL twins; sqlite-migrations.ts and
 * postgres-migrations.ts list them in order; never edit once shipped, append another):
 * - account_mfa: one TOTP secret per Web RA account (base32), confirmed by a first code, and the
 *   time step of the last accepted code (replay refusal, RFC 6238 §5.2);
 * - mfa_recovery_codes: SHA-256 of each one-time recovery code, and when it was used;
 * - mfa_required_roles: the Web RA roles that must have a second factor;
 * - sign_in_challenges: sign-ins whose password was right, waiting for the code (or enrolment).
 * Keyed by email, as the Store's account methods are; no foreign key to accounts, so a later
 * migration that rebuilds that table cannot cascade into these.
 */
import type { PostgresMigration } from './postgres-migrations.js';
import type { SqliteMigration } from './sqlite-migrations.js';

export const SQLITE_MFA_MIGRATION: SqliteMigration = {
  name: 'second factor',
  sql: `
    CREATE TABLE account_mfa (
      email TEXT PRIMARY KEY,
      secret TEXT NOT NULL,
      confirmed_at TEXT,
      last_step INTEGER,
      created_at TEXT NOT NULL
    );
    CREATE TABLE mfa_recovery_codes (
      email TEXT NOT NULL,
      code_hash TEXT NOT NULL,
      used_at TEXT,
      PRIMARY KEY (email, code_hash)
    );
    CREATE TABLE mfa_required_roles (
      role TEXT PRIMARY KEY CHECK (role IN ('admin', 'officer', 'auditor'))
    );
    CREATE TABLE sign_in_challenges (
      id TEXT PRIMARY KEY,
      email TEXT NOT NULL,
      next TEXT NOT NULL CHECK (next IN ('code', 'enrol')),
      created_at TEXT NOT NULL,
      expires_at TEXT NOT NULL
    );
    CREATE INDEX sign_in_challenges_expiry ON sign_in_challenges (expires_at);
  `,
};

export const POSTGRES_MFA_MIGRATION: PostgresMigration = {
  name: 'second factor',
  sql: `
    CREATE TABLE account_mfa (
      email text PRIMARY KEY,
      secret text NOT NULL,
      confirmed_at timestamptz,
      last_step bigint,
      created_at timestamptz NOT NULL
    );
    CREATE TABLE mfa_recovery_codes (
      email text NOT NULL,
      code_hash text NOT NULL,
      used_at timestamptz,
      PRIMARY KEY (email, code_hash)
    );
    CREATE TABLE mfa_required_roles (
      role text PRIMARY KEY CHECK (role IN ('admin', 'officer', 'auditor'))
    );
    CREATE TABLE sign_in_challenges (
      id text PRIMARY KEY,
      email text NOT NULL,
      next text NOT NULL CHECK (next IN ('code', 'enrol')),
      created_at timestamptz NOT NULL,
      expires_at timestamptz NOT NULL
    );
    CREATE INDEX sign_in_challenges_expiry ON sign_in_challenges (expires_at);
  `,
};
