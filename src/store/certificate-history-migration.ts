/**
 * Certificate history for the Web RA: who revoked a certificate, which certificate renewed it,
 * which request it fulfilled, and holds that can be released.
 *
 * - `revoked_by`: the actor of the revocation (its audit event), written with the revocation;
 *   null for a certificate revoked as superseded on renewal (its successor is `renewed_by`).
 * - `renewed_by`: the latest certificate that renews this one, set by a trigger when the successor
 *   is inserted (in the issuance's transaction), back-filled here. A partial index over the
 *   renewed-away certificates still valid lets the dashboard count them without a scan.
 * - `revocation_counts.released`: how many holds (certificateHold, RFC 5280 §5.3.1) of the CA were
 *   released. A release takes a certificate off the revoked set, so the set's summary (count,
 *   latest) alone could come back to a value it had before with other members; the CRL service
 *   names the revoked set with the release count too (crl-service.ts, revoked-set.ts).
 * - `pending_requests (serial)`: the request a certificate fulfilled (its approving officer).
 */
import type { PostgresMigration } from './postgres-migrations.js';
import type { SqliteMigration } from './sqlite-migrations.js';

export const SQLITE_CERTIFICATE_HISTORY: SqliteMigration = {
  name: 'Certificate history: revoked by, renewed by, hold releases, request by serial',
  sql: `
    ALTER TABLE certificates ADD COLUMN revoked_by TEXT;
    ALTER TABLE certificates ADD COLUMN renewed_by TEXT;
    UPDATE certificates SET renewed_by = (SELECT s.serial FROM certificates s WHERE s.renews = certificates.serial
        ORDER BY s.created_at DESC, s.rowid DESC LIMIT 1)
      WHERE serial IN (SELECT renews FROM certificates WHERE renews IS NOT NULL);
    CREATE TRIGGER certificates_renewed_by AFTER INSERT ON certificates WHEN NEW.renews IS NOT NULL
    BEGIN
      UPDATE certificates SET renewed_by = NEW.serial WHERE serial = NEW.renews;
    END;
    CREATE INDEX certificates_renewed_away ON certificates (not_after) WHERE status = 'valid' AND renewed_by IS NOT NULL;

    ALTER TABLE revocation_counts ADD COLUMN released INTEGER NOT NULL DEFAULT 0;
    CREATE TRIGGER certificates_hold_released AFTER UPDATE OF status ON certificates
      WHEN OLD.status = 'revoked' AND NEW.status <> 'revoked'
    BEGIN
      UPDATE revocation_counts SET revoked = revoked - 1, released = released + 1 WHERE ca = NEW.ca;
    END;

    CREATE INDEX pending_requests_serial ON pending_requests (serial) WHERE serial IS NOT NULL;
  `,
};

export const POSTGRES_CERTIFICATE_HISTORY: PostgresMigration = {
  name: 'Certificate history: revoked by, renewed by, hold releases, request by serial',
  sql: `
    ALTER TABLE certificates ADD COLUMN revoked_by text;
    ALTER TABLE certificates ADD COLUMN renewed_by text;
    UPDATE certificates c SET renewed_by = s.serial
      FROM (SELECT DISTINCT ON (renews) renews, serial FROM certificates WHERE renews IS NOT NULL
            ORDER BY renews, created_at DESC, seq DESC) AS s
      WHERE c.serial = s.renews;
    CREATE FUNCTION estuary_note_renewal() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      UPDATE certificates SET renewed_by = NEW.serial WHERE serial = NEW.renews;
      RETURN NULL;
    END $fn$;
    CREATE TRIGGER certificates_renewed_by AFTER INSERT ON certificates
      FOR EACH ROW WHEN (NEW.renews IS NOT NULL) EXECUTE FUNCTION estuary_note_renewal();
    CREATE INDEX certificates_renewed_away ON certificates (not_after) WHERE status = 'valid' AND renewed_by IS NOT NULL;

    ALTER TABLE revocation_counts ADD COLUMN released bigint NOT NULL DEFAULT 0;
    CREATE FUNCTION estuary_count_release() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      UPDATE revocation_counts SET revoked = revoked - 1, released = released + 1 WHERE ca = NEW.ca;
      RETURN NULL;
    END $fn$;
    CREATE TRIGGER certificates_hold_released AFTER UPDATE OF status ON certificates
      FOR EACH ROW WHEN (OLD.status = 'revoked' AND NEW.status <> 'revoked') EXECUTE FUNCTION estuary_count_release();

    CREATE INDEX pending_requests_serial ON pending_requests (serial) WHERE serial IS NOT NULL;
  `,
};
