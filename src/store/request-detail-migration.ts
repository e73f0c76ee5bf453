/**
 * Migration "request detail": what the Web RA's request detail view shows beyond the CSR, recorded
 * when a request is held (the client's address, the authentication it passed, the TLS client
 * certificate that authenticated it), the first of two approvals on four-eyes profiles, and the
 * indexes that find other requests and valid certificates with the same subject or key.
 * sqlite-migrations.ts and postgres-migrations.ts list it in order; never edit it once shipped.
 */
import type { PostgresMigration } from './postgres-migrations.js';
import type { SqliteMigration } from './sqlite-migrations.js';

const NAME = 'request detail: client address, authentication, client certificate, first approval';

export const SQLITE_REQUEST_DETAIL: SqliteMigration = {
  name: NAME,
  sql: `
    ALTER TABLE pending_requests ADD COLUMN client_address TEXT;
    ALTER TABLE pending_requests ADD COLUMN auth_method TEXT;
    ALTER TABLE pending_requests ADD COLUMN client_certificate TEXT;
    ALTER TABLE pending_requests ADD COLUMN first_approved_by TEXT;
    ALTER TABLE pending_requests ADD COLUMN first_approved_at TEXT;
    CREATE INDEX pending_requests_subject ON pending_requests (subject, status);
    CREATE INDEX pending_requests_key_id ON pending_requests (key_id, status);
    CREATE INDEX certificates_subject_status ON certificates (subject, status);
  `,
};

export const POSTGRES_REQUEST_DETAIL: PostgresMigration = {
  name: NAME,
  sql: `
    ALTER TABLE pending_requests ADD COLUMN client_address text;
    ALTER TABLE pending_requests ADD COLUMN auth_method text;
    ALTER TABLE pending_requests ADD COLUMN client_certificate jsonb;
    ALTER TABLE pending_requests ADD COLUMN first_approved_by text;
    ALTER TABLE pending_requests ADD COLUMN first_approved_at timestamptz;
    CREATE INDEX pending_requests_subject ON pending_requests (subject, status);
    CREATE INDEX pending_requests_key_id ON pending_requests (key_id, status);
    CREATE INDEX certificates_subject_status ON certificates (subject, status);
  `,
};
