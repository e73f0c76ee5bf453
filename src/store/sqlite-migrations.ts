import type Database from 'better-sqlite3';
import { SQLITE_SELF_SERVICE } from './self-service-migration.js';
import { SQLITE_PROFILE_APPROVALS } from './profile-approvals-migration.js';
import { SQLITE_REQUEST_DETAIL } from './request-detail-migration.js';
import { SQLITE_MFA_MIGRATION } from './mfa-migration.js';
import { SQLITE_CERTIFICATE_HISTORY } from './certificate-history-migration.js';
import { SQLITE_API_TOKENS } from './api-tokens-migration.js';
import { StoreUnavailableError } from './store.js';
import { PROFILE_LIFECYCLE_SQLITE } from './profile-lifecycle-migration.js';
import { WEBHOOKS_SQLITE_MIGRATION } from './webhooks-migration.js';
import { SQLITE_AUDIT_CHAIN } from './audit-chain-migration.js';

/**
 * Ordered schema migrations for the SQLite store. `PRAGMA user_version` holds how many of
 * them have been applied; to change the schema, append a migration (never edit a shipped one).
 *
 * Kept portable for the PostgreSQL store that will follow: plain TEXT / INTEGER / BLOB types,
 * timestamps as ISO-8601 TEXT in UTC (`Date#toISOString`, so they sort as text), booleans as
 * INTEGER 0/1, JSON as TEXT. Emails are stored lower-cased, which makes their UNIQUE
 * constraint case-insensitive without collation tricks.
 */

export interface SqliteMigration {
  name: string;
  sql: string;
}

export const SQLITE_MIGRATIONS: readonly SqliteMigration[] = [
  {
    name: 'initial schema',
    sql: `
      CREATE TABLE accounts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        email TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('est', 'admin')),
        disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );

      CREATE TABLE profiles (
        label TEXT PRIMARY KEY,
        enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
        ca TEXT NOT NULL,
        auth TEXT NOT NULL,
        client_trust_anchors TEXT NOT NULL,
        validity_days INTEGER NOT NULL,
        key_algorithms TEXT NOT NULL,
        key_usage TEXT NOT NULL,
        extended_key_usage TEXT NOT NULL,
        allowed_accounts TEXT NOT NULL,
        csr_attrs TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );

      CREATE TABLE certificates (
        serial TEXT PRIMARY KEY,
        profile TEXT NOT NULL,
        ca TEXT NOT NULL,
        subject TEXT NOT NULL,
        sans TEXT NOT NULL,
        not_before TEXT NOT NULL,
        not_after TEXT NOT NULL,
        der BLOB NOT NULL,
        requester TEXT NOT NULL,
        renews TEXT,
        status TEXT NOT NULL CHECK (status IN ('valid', 'revoked')),
        revoked_at TEXT,
        revocation_reason TEXT,
        created_at TEXT NOT NULL
      );
      CREATE INDEX certificates_profile ON certificates (profile);
      CREATE INDEX certificates_status ON certificates (status);
      CREATE INDEX certificates_not_after ON certificates (not_after);
      CREATE INDEX certificates_renews ON certificates (renews);

      CREATE TABLE audit_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        profile TEXT,
        outcome TEXT NOT NULL,
        serial TEXT,
        detail TEXT
      );
      CREATE INDEX audit_events_at ON audit_events (at);
    `,
  },
  {
    name: 'manual approval',
    sql: `
      ALTER TABLE profiles ADD COLUMN approval TEXT NOT NULL DEFAULT 'auto';
      ALTER TABLE profiles ADD COLUMN retry_after_seconds INTEGER NOT NULL DEFAULT 60;
      ALTER TABLE profiles ADD COLUMN pending_ttl_hours INTEGER NOT NULL DEFAULT 72;
      CREATE TABLE pending_requests (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        profile TEXT NOT NULL,
        operation TEXT NOT NULL,
        requester TEXT NOT NULL,
        key_id TEXT NOT NULL,
        csr BLOB NOT NULL,
        subject TEXT NOT NULL,
        sans TEXT NOT NULL,
        key_description TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'issued')),
        reason TEXT,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        decided_by TEXT,
        decided_at TEXT,
        serial TEXT
      );
      CREATE INDEX pending_requests_lookup ON pending_requests (profile, requester, key_id);
      CREATE INDEX pending_requests_status ON pending_requests (status);
    `,
  },
  {
    name: 'proof-of-possession linking',
    sql: `ALTER TABLE profiles ADD COLUMN pop_linking TEXT NOT NULL DEFAULT 'off';`,
  },
  {
    name: 'name policy',
    sql: `
      ALTER TABLE profiles ADD COLUMN name_policy TEXT NOT NULL DEFAULT '{}';
      ALTER TABLE accounts ADD COLUMN allowed_names TEXT NOT NULL DEFAULT '[]';
    `,
  },
  {
    // SQLite cannot alter a CHECK constraint: the table is rebuilt and its rows copied, ids kept
    // (PostgreSQL: ALTER TABLE accounts DROP CONSTRAINT …, ADD CHECK …, ADD COLUMN allowed_profiles).
    name: 'Web RA roles and account profile restrictions',
    sql: `
      CREATE TABLE accounts_v5 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        email TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('est', 'admin', 'officer', 'auditor')),
        disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        allowed_names TEXT NOT NULL DEFAULT '[]',
        allowed_profiles TEXT NOT NULL DEFAULT '[]'
      );
      INSERT INTO accounts_v5 (id, email, password_hash, role, disabled, created_at, updated_at, allowed_names)
        SELECT id, email, password_hash, role, disabled, created_at, updated_at, allowed_names FROM accounts;
      DROP TABLE accounts;
      ALTER TABLE accounts_v5 RENAME TO accounts;
      CREATE INDEX certificates_created_at ON certificates (created_at);
      CREATE INDEX pending_requests_profile ON pending_requests (profile);
      CREATE INDEX audit_events_actor ON audit_events (actor);
    `,
  },
  {
    // unlocked_at: locks set before it (throttled failed sign-ins) no longer count.
    // renewal: the profile's renewal rules as JSON (see RenewalPolicy).
    name: 'account unlock and renewal rules',
    sql: `
      ALTER TABLE accounts ADD COLUMN unlocked_at TEXT;
      ALTER TABLE profiles ADD COLUMN renewal TEXT NOT NULL DEFAULT '{}';
      CREATE INDEX pending_requests_requester ON pending_requests (requester, status);
    `,
  },
  {
    name: 'device CA revocation checking',
    sql: `ALTER TABLE profiles ADD COLUMN device_revocation TEXT NOT NULL DEFAULT '{}';`,
  },
  {
    // A CA's revoked certificates in CRL order, read from the index alone and a page at a time;
    // and per CA the number of revoked certificates and the latest revocation, kept by triggers,
    // which the CRL service reads on every fetch to tell whether its signed CRL is still current
    // (a COUNT over the index was measured at ~23 ms for 150,000 entries).
    // PostgreSQL: the same partial index, table and row triggers (plpgsql).
    name: 'Revoked certificates per CA: index and counters',
    sql: `
      CREATE INDEX certificates_revoked ON certificates (ca, revoked_at, serial, revocation_reason, not_after)
        WHERE status = 'revoked';
      CREATE TABLE revocation_counts (
        ca TEXT PRIMARY KEY,
        revoked INTEGER NOT NULL,
        latest TEXT
      );
      INSERT INTO revocation_counts (ca, revoked, latest)
        SELECT ca, COUNT(*), MAX(revoked_at) FROM certificates WHERE status = 'revoked' GROUP BY ca;
      CREATE TRIGGER certificates_revoked_on_update AFTER UPDATE OF status ON certificates
        WHEN NEW.status = 'revoked' AND OLD.status <> 'revoked'
      BEGIN
        INSERT OR IGNORE INTO revocation_counts (ca, revoked, latest) VALUES (NEW.ca, 0, NULL);
        UPDATE revocation_counts SET revoked = revoked + 1, latest = MAX(COALESCE(latest, ''), COALESCE(NEW.revoked_at, ''))
          WHERE ca = NEW.ca;
      END;
      CREATE TRIGGER certificates_revoked_on_insert AFTER INSERT ON certificates
        WHEN NEW.status = 'revoked'
      BEGIN
        INSERT OR IGNORE INTO revocation_counts (ca, revoked, latest) VALUES (NEW.ca, 0, NULL);
        UPDATE revocation_counts SET revoked = revoked + 1, latest = MAX(COALESCE(latest, ''), COALESCE(NEW.revoked_at, ''))
          WHERE ca = NEW.ca;
      END;
      CREATE TRIGGER certificates_revoked_on_delete AFTER DELETE ON certificates
        WHEN OLD.status = 'revoked'
      BEGIN
        UPDATE revocation_counts SET revoked = revoked - 1 WHERE ca = OLD.ca;
      END;
    `,
  },
  {
    // The change signal (Store.changes) across processes: PRAGMA data_version tells a connection
    // that someone else committed, but not what. These triggers count the commits that matter to
    // caches and to the other listeners (profiles, accounts, a certificate's status), so a server
    // can tell a CLI change from its own writer thread recording certificates and audit events,
    // which move data_version on every group commit and touch none of these.
    // PostgreSQL: LISTEN/NOTIFY instead.
    name: 'change counter for caches',
    sql: `
      CREATE TABLE change_counter (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        n INTEGER NOT NULL
      );
      INSERT INTO change_counter (id, n) VALUES (1, 0);
      CREATE TRIGGER accounts_changed_insert AFTER INSERT ON accounts BEGIN UPDATE change_counter SET n = n + 1 WHERE id = 1; END;
      CREATE TRIGGER accounts_changed_update AFTER UPDATE ON accounts BEGIN UPDATE change_counter SET n = n + 1 WHERE id = 1; END;
      CREATE TRIGGER accounts_changed_delete AFTER DELETE ON accounts BEGIN UPDATE change_counter SET n = n + 1 WHERE id = 1; END;
      CREATE TRIGGER profiles_changed_insert AFTER INSERT ON profiles BEGIN UPDATE change_counter SET n = n + 1 WHERE id = 1; END;
      CREATE TRIGGER profiles_changed_update AFTER UPDATE ON profiles BEGIN UPDATE change_counter SET n = n + 1 WHERE id = 1; END;
      CREATE TRIGGER profiles_changed_delete AFTER DELETE ON profiles BEGIN UPDATE change_counter SET n = n + 1 WHERE id = 1; END;
      CREATE TRIGGER certificates_changed_status AFTER UPDATE OF status ON certificates
        WHEN NEW.status IS NOT OLD.status
      BEGIN UPDATE change_counter SET n = n + 1 WHERE id = 1; END;
      CREATE TRIGGER certificates_changed_delete AFTER DELETE ON certificates BEGIN UPDATE change_counter SET n = n + 1 WHERE id = 1; END;
    `,
  },
  {
    // State every instance sharing the database must see (sqlite-shared-state.ts): Web RA
    // sessions (id = SHA-256 of the cookie value, never the value), failed-password counters and
    // their locks, leases for jobs one instance runs at a time, and the CRLs last published.
    // cRLNumbers are zero-padded decimal text (up to 20 octets, RFC 5280 §5.2.3) so they compare as text.
    name: 'Shared state: Web RA sessions, failure counters, leases, published CRLs',
    sql: `
      CREATE TABLE web_sessions (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL,
        role TEXT NOT NULL,
        csrf_token TEXT NOT NULL,
        created_at TEXT NOT NULL,
        last_seen_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
      );
      CREATE INDEX web_sessions_email ON web_sessions (email);
      CREATE TABLE failure_counters (
        key TEXT PRIMARY KEY,
        failures TEXT NOT NULL,
        locked_at TEXT,
        locked_until TEXT
      );
      CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_at TEXT NOT NULL
      );
      CREATE TABLE published_crls (
        ca TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('complete', 'delta')),
        number TEXT NOT NULL,
        der BLOB NOT NULL,
        this_update TEXT NOT NULL,
        next_update TEXT NOT NULL,
        stamp TEXT NOT NULL,
        PRIMARY KEY (ca, kind)
      );
    `,
  },
  {
    // The Web RA at real size (measured with 1,000,000 certificates: npm run bench:webra).
    // Composite indexes that match the lists' filters and sorts (newest first within a profile and
    // status, soonest expiry within a status), with not_after inside so `valid`/`expired` are judged
    // from the index alone; their single-column prefixes go.
    // certificates_fts: a trigram index of serial, subject and SANs for substring search (FTS5,
    // SQLite ≥ 3.34), external content keyed by the certificates' rowid and kept by triggers;
    // after a VACUUM (which may renumber rowids) run INSERT INTO certificates_fts(certificates_fts) VALUES('rebuild').
    // certificate_totals and certificates_per_day: counters for the dashboard, kept by triggers.
    // PostgreSQL: the same B-tree indexes, pg_trgm GIN indexes on the three columns, the same counter tables.
    name: 'Web RA at real size: composite indexes, trigram search, dashboard counters',
    sql: `
      CREATE INDEX certificates_profile_status_created ON certificates (profile, status, created_at, not_after);
      CREATE INDEX certificates_status_created ON certificates (status, created_at, not_after);
      CREATE INDEX certificates_status_not_after ON certificates (status, not_after, created_at);
      DROP INDEX certificates_profile;
      DROP INDEX certificates_status;
      CREATE INDEX audit_events_actor_at ON audit_events (actor, at);
      CREATE INDEX audit_events_action_at ON audit_events (action, at);
      CREATE INDEX audit_events_profile_at ON audit_events (profile, at);
      DROP INDEX audit_events_actor;
      CREATE INDEX pending_requests_status_profile ON pending_requests (status, profile);

      CREATE VIRTUAL TABLE certificates_fts USING fts5(serial, subject, sans, content = 'certificates', content_rowid = 'rowid', tokenize = 'trigram');
      INSERT INTO certificates_fts (certificates_fts) VALUES ('rebuild');
      CREATE TRIGGER certificates_fts_insert AFTER INSERT ON certificates BEGIN
        INSERT INTO certificates_fts (rowid, serial, subject, sans) VALUES (NEW.rowid, NEW.serial, NEW.subject, NEW.sans);
      END;
      CREATE TRIGGER certificates_fts_delete AFTER DELETE ON certificates BEGIN
        INSERT INTO certificates_fts (certificates_fts, rowid, serial, subject, sans) VALUES ('delete', OLD.rowid, OLD.serial, OLD.subject, OLD.sans);
      END;
      CREATE TRIGGER certificates_fts_update AFTER UPDATE OF serial, subject, sans ON certificates BEGIN
        INSERT INTO certificates_fts (certificates_fts, rowid, serial, subject, sans) VALUES ('delete', OLD.rowid, OLD.serial, OLD.subject, OLD.sans);
        INSERT INTO certificates_fts (rowid, serial, subject, sans) VALUES (NEW.rowid, NEW.serial, NEW.subject, NEW.sans);
      END;

      CREATE TABLE certificate_totals (status TEXT PRIMARY KEY, n INTEGER NOT NULL);
      INSERT INTO certificate_totals (status, n) SELECT status, COUNT(*) FROM certificates GROUP BY status;
      CREATE TABLE certificates_per_day (day TEXT PRIMARY KEY, n INTEGER NOT NULL);
      INSERT INTO certificates_per_day (day, n) SELECT SUBSTR(created_at, 1, 10), COUNT(*) FROM certificates GROUP BY SUBSTR(created_at, 1, 10);
      CREATE TRIGGER certificate_counts_insert AFTER INSERT ON certificates BEGIN
        INSERT INTO certificate_totals (status, n) VALUES (NEW.status, 1) ON CONFLICT (status) DO UPDATE SET n = n + 1;
        INSERT INTO certificates_per_day (day, n) VALUES (SUBSTR(NEW.created_at, 1, 10), 1) ON CONFLICT (day) DO UPDATE SET n = n + 1;
      END;
      CREATE TRIGGER certificate_counts_status AFTER UPDATE OF status ON certificates WHEN NEW.status <> OLD.status BEGIN
        UPDATE certificate_totals SET n = n - 1 WHERE status = OLD.status;
        INSERT INTO certificate_totals (status, n) VALUES (NEW.status, 1) ON CONFLICT (status) DO UPDATE SET n = n + 1;
      END;
      CREATE TRIGGER certificate_counts_delete AFTER DELETE ON certificates BEGIN
        UPDATE certificate_totals SET n = n - 1 WHERE status = OLD.status;
        UPDATE certificates_per_day SET n = n - 1 WHERE day = SUBSTR(OLD.created_at, 1, 10);
      END;
    `,
  },
  SQLITE_SELF_SERVICE,
  SQLITE_REQUEST_DETAIL,
  SQLITE_PROFILE_APPROVALS,
  SQLITE_MFA_MIGRATION,
  SQLITE_CERTIFICATE_HISTORY,
  SQLITE_API_TOKENS,
  PROFILE_LIFECYCLE_SQLITE,
  WEBHOOKS_SQLITE_MIGRATION,
  SQLITE_AUDIT_CHAIN,
];

/** Applies the missing migrations in one IMMEDIATE transaction (two processes may open a new file at once). */
export function migrateSqlite(db: Database.Database, path: string): void {
  const target = SQLITE_MIGRATIONS.length;
  const current = () => db.pragma('user_version', { simple: true }) as number;
  if (current() === target) return; // the common case takes no write lock
  db.transaction(() => {
    const version = current();
    if (version > target) {
      throw new StoreUnavailableError(`database ${path} has schema version ${version}, newer than this Estuary supports (${target})`);
    }
    for (const m of SQLITE_MIGRATIONS.slice(version)) db.exec(m.sql);
    db.pragma(`user_version = ${target}`);
  }).immediate();
}
