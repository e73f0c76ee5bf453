/**
 * Schema of the webhooks (src/notify/): endpoints, events and deliveries, for both stores.
 *
 * Events are queued by triggers on the tables of the change itself, so the event commits in the
 * same transaction as what caused it, whichever path made the change (EST, Web RA, CLI, another
 * instance): a certificate inserted (`cert.issued`), a certificate's status turned to revoked
 * (`cert.revoked`, superseded ones too), a request held for approval (`request.pending`). Nothing is
 * queued while no enabled endpoint subscribes to the type: the request path then pays one lookup
 * in a table of a few rows. `cert.expiring` events are queued by a periodic scan (store method
 * queueExpiringWebhooks), deduplicated by `dedupe_key` (one event per certificate and threshold).
 *
 * `events` of an endpoint is a comma-framed list (`,cert.issued,cert.revoked,`) so that the
 * triggers match a type with one substring test in both databases.
 */

const SQLITE_MATCH = (type: string) => `enabled = 1 AND instr(events, ',${type},') > 0`;
const SQLITE_NOW = `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`;

function sqliteTrigger(name: string, on: string, when: string, type: string, at: string, data: string): string {
  return `
      CREATE TRIGGER ${name} ${on}
      WHEN ${when}EXISTS (SELECT 1 FROM webhook_endpoints WHERE ${SQLITE_MATCH(type)})
      BEGIN
        INSERT INTO webhook_events (type, occurred_at, data) VALUES ('${type}', ${at}, ${data});
        INSERT INTO webhook_deliveries (event_id, endpoint_id, status, attempts, next_attempt_at, created_at)
          SELECT (SELECT MAX(id) FROM webhook_events), id, 'pending', 0, ${SQLITE_NOW}, ${SQLITE_NOW}
          FROM webhook_endpoints WHERE ${SQLITE_MATCH(type)};
      END;`;
}

const SQLITE_CERT = (n: string) => `'serial', ${n}.serial, 'profile', ${n}.profile, 'ca', ${n}.ca, 'subject', ${n}.subject,
          'sans', json(${n}.sans), 'notBefore', ${n}.not_before, 'notAfter', ${n}.not_after, 'requester', ${n}.requester`;

export const WEBHOOKS_SQLITE_MIGRATION = {
  name: 'webhooks: endpoints, events queued by triggers, deliveries',
  sql: `
      CREATE TABLE webhook_endpoints (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        url TEXT NOT NULL,
        events TEXT NOT NULL,
        expiring_days TEXT NOT NULL,
        secret TEXT NOT NULL,
        description TEXT NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE TABLE webhook_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        type TEXT NOT NULL,
        occurred_at TEXT NOT NULL,
        data TEXT NOT NULL,
        dedupe_key TEXT UNIQUE
      );
      CREATE TABLE webhook_deliveries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id INTEGER NOT NULL REFERENCES webhook_events (id),
        endpoint_id INTEGER NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
        status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts INTEGER NOT NULL,
        next_attempt_at TEXT NOT NULL,
        claimed_by TEXT,
        claimed_until TEXT,
        last_attempt_at TEXT,
        last_error TEXT,
        response_code INTEGER,
        created_at TEXT NOT NULL,
        UNIQUE (event_id, endpoint_id)
      );
      CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
      CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id DESC);
      ${sqliteTrigger('webhook_cert_issued', 'AFTER INSERT ON certificates', '', 'cert.issued', 'NEW.created_at',
    `json_object(${SQLITE_CERT('NEW')}, 'renews', NEW.renews)`)}
      ${sqliteTrigger('webhook_cert_revoked', 'AFTER UPDATE OF status ON certificates', `NEW.status = 'revoked' AND OLD.status <> 'revoked' AND `,
    'cert.revoked', 'NEW.revoked_at', `json_object(${SQLITE_CERT('NEW')}, 'reason', NEW.revocation_reason, 'revokedAt', NEW.revoked_at)`)}
      ${sqliteTrigger('webhook_request_pending', 'AFTER INSERT ON pending_requests', `NEW.status = 'pending' AND `, 'request.pending', 'NEW.created_at',
    `json_object('requestId', NEW.id, 'profile', NEW.profile, 'operation', NEW.operation, 'requester', NEW.requester, 'subject', NEW.subject,
          'sans', json(NEW.sans), 'key', NEW.key_description, 'expiresAt', NEW.expires_at)`)}
    `,
};

const PG_ISO = (t: string) => `to_char(${t} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
const PG_CERT = (n: string) => `'serial', ${n}.serial, 'profile', ${n}.profile, 'ca', ${n}.ca, 'subject', ${n}.subject,
          'sans', ${n}.sans::jsonb, 'notBefore', ${PG_ISO(`${n}.not_before`)}, 'notAfter', ${PG_ISO(`${n}.not_after`)}, 'requester', ${n}.requester`;
const PG_MATCH = (type: string) => `e.enabled AND position(',' || ${type} || ',' in e.events) > 0`;
const PG_DELIVER = `INSERT INTO webhook_deliveries (event_id, endpoint_id, status, attempts, next_attempt_at, created_at)
            SELECT ev.id, e.id, 'pending', 0, now(), now() FROM ev CROSS JOIN webhook_endpoints e WHERE ${PG_MATCH('v_type')}`;

export const WEBHOOKS_POSTGRES_MIGRATION = {
  name: 'webhooks: endpoints, events queued by triggers, deliveries',
  sql: `
      CREATE TABLE webhook_endpoints (
        id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        url text NOT NULL,
        events text NOT NULL,
        expiring_days jsonb NOT NULL,
        secret text NOT NULL,
        description text NOT NULL,
        enabled boolean NOT NULL DEFAULT true,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL
      );
      CREATE TABLE webhook_events (
        id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        type text NOT NULL,
        occurred_at timestamptz NOT NULL,
        data text NOT NULL,
        dedupe_key text UNIQUE
      );
      CREATE TABLE webhook_deliveries (
        id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        event_id bigint NOT NULL REFERENCES webhook_events (id),
        endpoint_id integer NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
        status text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts integer NOT NULL,
        next_attempt_at timestamptz NOT NULL,
        claimed_by text,
        claimed_until timestamptz,
        last_attempt_at timestamptz,
        last_error text,
        response_code integer,
        created_at timestamptz NOT NULL,
        UNIQUE (event_id, endpoint_id)
      );
      CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
      CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id DESC);

      -- Statement-level triggers with transition tables: a group commit of many issuances runs the
      -- function once, and with no subscribed endpoint it stops after one lookup.
      CREATE FUNCTION estuary_webhook_queue() RETURNS trigger LANGUAGE plpgsql AS $fn$
      DECLARE
        v_type text := TG_ARGV[0];
      BEGIN
        IF NOT EXISTS (SELECT 1 FROM webhook_endpoints e WHERE ${PG_MATCH('v_type')}) THEN
          RETURN NULL;
        END IF;
        IF v_type = 'cert.issued' THEN
          WITH ev AS (
            INSERT INTO webhook_events (type, occurred_at, data) SELECT v_type, n.created_at,
              jsonb_build_object(${PG_CERT('n')}, 'renews', n.renews)::text FROM new_rows n ORDER BY n.seq RETURNING id
          ) ${PG_DELIVER};
        ELSIF v_type = 'cert.revoked' THEN
          WITH ev AS (
            INSERT INTO webhook_events (type, occurred_at, data) SELECT v_type, n.revoked_at,
              jsonb_build_object(${PG_CERT('n')}, 'reason', n.revocation_reason, 'revokedAt', ${PG_ISO('n.revoked_at')})::text
              FROM new_rows n JOIN old_rows o ON o.serial = n.serial WHERE n.status = 'revoked' AND o.status <> 'revoked' ORDER BY n.seq RETURNING id
          ) ${PG_DELIVER};
        ELSE
          WITH ev AS (
            INSERT INTO webhook_events (type, occurred_at, data) SELECT v_type, n.created_at,
              jsonb_build_object('requestId', n.id, 'profile', n.profile, 'operation', n.operation, 'requester', n.requester, 'subject', n.subject,
                'sans', n.sans, 'key', n.key_description, 'expiresAt', ${PG_ISO('n.expires_at')})::text
              FROM new_rows n WHERE n.status = 'pending' ORDER BY n.id RETURNING id
          ) ${PG_DELIVER};
        END IF;
        RETURN NULL;
      END $fn$;
      CREATE TRIGGER webhook_cert_issued AFTER INSERT ON certificates REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION estuary_webhook_queue('cert.issued');
      CREATE TRIGGER webhook_cert_revoked AFTER UPDATE ON certificates REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION estuary_webhook_queue('cert.revoked');
      CREATE TRIGGER webhook_request_pending AFTER INSERT ON pending_requests REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION estuary_webhook_queue('request.pending');
    `,
};
