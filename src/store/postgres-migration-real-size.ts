/**
 * The PostgreSQL migration 'Web RA at real size' (postgres-migrations.ts lists it in order; never
 * edit it once shipped, append another).
 */
import type { PostgresMigration } from './postgres-migrations.js';

export const WEB_RA_AT_REAL_SIZE: PostgresMigration = {
  // The Web RA at real size (the SQLite migration of the same name is its twin):
  // - substring search (ILIKE '%x%' on subject, sans, serial) served by pg_trgm GIN indexes. pg_trgm
  //   ships in postgresql-contrib and is a trusted extension (the database owner may create it);
  //   where the server lacks it, the migration says so (a WARNING) and searches scan instead;
  //   installing it later takes CREATE EXTENSION pg_trgm and the three CREATE INDEX below, by hand.
  // - composite B-tree indexes matching the lists' filters and sorts: newest first within a
  //   profile and status, soonest expiry within a status; audit events newest first by action or profile.
  // - certificate_counts: issuances per UTC day of issuance and status, kept by statement-level
  //   triggers (one upsert per statement and group, so a batch of issuances adds once). Each
  //   backend writes its own slot (pid % 8), so concurrent issuances on several connections and
  //   instances do not queue on one counter row; readers sum the slots.
  name: 'Web RA at real size: trigram search, composite indexes, dashboard counters',
  sql: `
    DO $do$
    BEGIN
      IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
        CREATE INDEX certificates_subject_trgm ON certificates USING gin (subject gin_trgm_ops);
        CREATE INDEX certificates_sans_trgm ON certificates USING gin (sans gin_trgm_ops);
        CREATE INDEX certificates_serial_trgm ON certificates USING gin (serial gin_trgm_ops);
      ELSE
        RAISE WARNING 'the pg_trgm extension is not available on this server (Debian: postgresql-contrib): certificate substring searches scan the table';
      END IF;
    END $do$;

    -- not_after is a key column at the end, so 'valid' and 'expired' (status and not_after) are judged
    -- on the index entries as the scan walks them newest first, before any row is read
    CREATE INDEX certificates_profile_status_created ON certificates (profile, status, created_at DESC, seq DESC, not_after);
    DROP INDEX certificates_status_created;
    CREATE INDEX certificates_status_created ON certificates (status, created_at DESC, seq DESC, not_after);
    CREATE INDEX certificates_status_not_after ON certificates (status, not_after, serial);
    CREATE INDEX audit_events_action ON audit_events (action, at DESC, id DESC);
    CREATE INDEX audit_events_profile ON audit_events (profile, at DESC, id DESC);
    CREATE INDEX pending_requests_status_profile ON pending_requests (status, profile, id DESC);

    CREATE TABLE certificate_counts (
      day date NOT NULL,
      status text NOT NULL,
      slot smallint NOT NULL,
      n bigint NOT NULL,
      PRIMARY KEY (day, status, slot)
    );
    INSERT INTO certificate_counts (day, status, slot, n)
      SELECT (created_at AT TIME ZONE 'UTC')::date, status, 0, COUNT(*) FROM certificates GROUP BY 1, 2;

    -- delta: rows of (created_at, status, sign) this statement added (+1) or removed (-1)
    CREATE FUNCTION estuary_count_certificates() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        INSERT INTO certificate_counts AS c (day, status, slot, n)
          SELECT (created_at AT TIME ZONE 'UTC')::date, status, pg_backend_pid() % 8, COUNT(*) FROM new_rows GROUP BY 1, 2
          ON CONFLICT (day, status, slot) DO UPDATE SET n = c.n + EXCLUDED.n;
      ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO certificate_counts AS c (day, status, slot, n)
          SELECT (created_at AT TIME ZONE 'UTC')::date, status, pg_backend_pid() % 8, -COUNT(*) FROM old_rows GROUP BY 1, 2
          ON CONFLICT (day, status, slot) DO UPDATE SET n = c.n + EXCLUDED.n;
      ELSE
        INSERT INTO certificate_counts AS c (day, status, slot, n)
          SELECT d.day, d.status, pg_backend_pid() % 8, SUM(d.n) FROM (
              SELECT (created_at AT TIME ZONE 'UTC')::date AS day, status, 1 AS n FROM new_rows
              UNION ALL
              SELECT (created_at AT TIME ZONE 'UTC')::date, status, -1 FROM old_rows
            ) AS d GROUP BY 1, 2 HAVING SUM(d.n) <> 0
          ON CONFLICT (day, status, slot) DO UPDATE SET n = c.n + EXCLUDED.n;
      END IF;
      RETURN NULL;
    END $fn$;
    CREATE TRIGGER certificate_counts_insert AFTER INSERT ON certificates
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION estuary_count_certificates();
    CREATE TRIGGER certificate_counts_update AFTER UPDATE ON certificates
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION estuary_count_certificates();
    CREATE TRIGGER certificate_counts_delete AFTER DELETE ON certificates
      REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION estuary_count_certificates();
  `,
};
