/**
 * Schema of the audit trail's origin fields and hash chain (store/audit-chain.ts documents the
 * encoding): client_ip and request_id on every event, and seq, prev_hash, hash.
 *
 * Events already recorded keep seq NULL: the chain starts with the first event recorded after
 * this migration (prev_hash = 64 zeros). They were written before anything could vouch for them,
 * so the chain does not claim to; `estuary audit verify` reports how many there are.
 *
 * SQLite: the store computes the links in its write transactions (sqlite-audit-chain.ts); the
 * database's single write lock orders them. PostgreSQL: a deferred trigger computes them when
 * the inserting transaction commits, under a transaction-level advisory lock (held until that
 * commit ends), so every instance and every insert path (group commit included) appends to one
 * chain in commit order. The two composite functions are redefined only to carry client_ip and request_id.
 */
import { createHash } from 'node:crypto';
import type { PostgresMigration } from './postgres-migrations.js';
import type { SqliteMigration } from './sqlite-migrations.js';

const NAME = 'audit trail: client address, request id, hash chain';

export const SQLITE_AUDIT_CHAIN: SqliteMigration = {
  name: NAME,
  sql: `
    ALTER TABLE audit_events ADD COLUMN client_ip TEXT;
    ALTER TABLE audit_events ADD COLUMN request_id TEXT;
    ALTER TABLE audit_events ADD COLUMN seq INTEGER;
    ALTER TABLE audit_events ADD COLUMN prev_hash TEXT;
    ALTER TABLE audit_events ADD COLUMN hash TEXT;
    CREATE UNIQUE INDEX audit_events_seq ON audit_events (seq);
  `,
};

/** The columns of an audit event in the jsonb the composite functions read. */
const AUDIT_RECORD = `a(at timestamptz, actor text, action text, profile text, outcome text, serial text, detail text, client_ip text, request_id text)`;
const AUDIT_INSERT = `INSERT INTO audit_events (at, actor, action, profile, outcome, serial, detail, client_ip, request_id)
              SELECT a.at, a.actor, a.action, a.profile, a.outcome, a.serial, a.detail, a.client_ip, a.request_id`;
/** pg_advisory_xact_lock key of the chain: the first 8 bytes of sha256('estuary audit chain'), as a signed bigint. */
export const AUDIT_CHAIN_LOCK_KEY = BigInt.asIntN(64, BigInt('0x' + createHash('sha256').update('estuary audit chain').digest('hex').slice(0, 16))).toString();
/** postgres-migrations.ts CHANGE_CHANNEL (not imported: that module imports this one). */
const CHANNEL = 'estuary_changes';

export const POSTGRES_AUDIT_CHAIN: PostgresMigration = {
  name: NAME,
  sql: `
    ALTER TABLE audit_events ADD COLUMN client_ip text, ADD COLUMN request_id text,
      ADD COLUMN seq bigint, ADD COLUMN prev_hash text, ADD COLUMN hash text;
    -- partial: the tail lookup below must not walk past the rows still waiting for their link
    CREATE UNIQUE INDEX audit_events_seq ON audit_events (seq) WHERE seq IS NOT NULL;

    -- f(v) of the canonical encoding: '-' for NULL, else <UTF-8 byte length>:<v>.
    CREATE FUNCTION estuary_audit_field(v text) RETURNS text IMMUTABLE LANGUAGE sql AS $fn$
      SELECT CASE WHEN v IS NULL THEN '-' ELSE octet_length(convert_to(v, 'UTF8'))::text || ':' || v END
    $fn$;

    -- At commit (a deferred constraint trigger), in insert order, under a transaction-level
    -- advisory lock that orders the appends of every instance: taken last, after every other lock
    -- of the transaction, it cannot deadlock with a transaction that holds other rows (a
    -- certificate, a counter) and waits for it; it is held only while the transaction commits
    -- (released once the commit is visible), and costs no write (a row lock would dirty a page).
    -- The chain's tail is read from audit_events (a partial index on seq).
    CREATE FUNCTION estuary_audit_chain() RETURNS trigger LANGUAGE plpgsql AS $fn$
    DECLARE
      v_seq bigint;
      v_prev text;
    BEGIN
      PERFORM pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK_KEY});
      -- a new snapshot (the store runs READ COMMITTED): every append committed before the lock was granted, and this transaction's own
      SELECT e.seq, e.hash INTO v_seq, v_prev FROM audit_events e WHERE e.seq IS NOT NULL ORDER BY e.seq DESC LIMIT 1;
      v_seq := COALESCE(v_seq, 0) + 1;
      v_prev := COALESCE(v_prev, '${'0'.repeat(64)}');
      UPDATE audit_events SET seq = v_seq, prev_hash = v_prev, hash = encode(sha256(convert_to('EA1'
          || estuary_audit_field(v_seq::text)
          || estuary_audit_field(to_char(NEW.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
          || estuary_audit_field(NEW.actor) || estuary_audit_field(NEW.action) || estuary_audit_field(NEW.profile)
          || estuary_audit_field(NEW.outcome) || estuary_audit_field(NEW.serial) || estuary_audit_field(NEW.detail)
          || estuary_audit_field(NEW.client_ip) || estuary_audit_field(NEW.request_id) || estuary_audit_field(v_prev), 'UTF8')), 'hex')
        WHERE id = NEW.id;
      RETURN NULL;
    END $fn$;
    CREATE CONSTRAINT TRIGGER audit_events_chain AFTER INSERT ON audit_events DEFERRABLE INITIALLY DEFERRED
      FOR EACH ROW EXECUTE FUNCTION estuary_audit_chain();

    CREATE OR REPLACE FUNCTION estuary_record_issuance(p_c jsonb, p_der bytea, p_audit jsonb, p_supersede jsonb, p_once boolean,
        p_approved_id integer, p_origin text) RETURNS text LANGUAGE plpgsql AS $fn$
    #variable_conflict use_column
    DECLARE
      v_renews text := p_c->>'renews';
      v_ca text;
    BEGIN
      IF v_renews IS NOT NULL AND (p_once OR p_supersede IS NOT NULL) THEN
        PERFORM 1 FROM certificates WHERE serial = v_renews FOR UPDATE;
        IF p_once AND EXISTS (SELECT 1 FROM certificates WHERE renews = v_renews) THEN
          RAISE EXCEPTION 'certificate % has already been renewed', v_renews USING ERRCODE = 'ES409';
        END IF;
      END IF;
      IF p_approved_id IS NOT NULL THEN
        UPDATE pending_requests SET status = 'issued', serial = p_c->>'serial' WHERE id = p_approved_id AND status = 'approved';
        IF NOT FOUND THEN
          RAISE EXCEPTION 'request % is not approved or was already issued', p_approved_id USING ERRCODE = 'ES409';
        END IF;
      END IF;
      INSERT INTO certificates (serial, profile, ca, subject, sans, not_before, not_after, der, requester, renews, status, created_at)
        VALUES (p_c->>'serial', p_c->>'profile', p_c->>'ca', p_c->>'subject', p_c->>'sans', (p_c->>'not_before')::timestamptz,
          (p_c->>'not_after')::timestamptz, p_der, p_c->>'requester', v_renews, 'valid', (p_c->>'created_at')::timestamptz);
      IF v_renews IS NOT NULL AND p_supersede IS NOT NULL THEN
        UPDATE certificates SET status = 'revoked', revoked_at = (p_supersede->>'at')::timestamptz, revocation_reason = 'superseded'
          WHERE serial = v_renews AND status = 'valid' RETURNING ca INTO v_ca;
        IF FOUND THEN
          ${AUDIT_INSERT} FROM jsonb_to_record(p_supersede->'audit') AS ${AUDIT_RECORD};
          PERFORM pg_notify('${CHANNEL}', jsonb_build_object('o', p_origin, 'c',
            jsonb_build_object('kind', 'revocation', 'ca', v_ca, 'serial', v_renews))::text);
        END IF;
      END IF;
      ${AUDIT_INSERT} FROM jsonb_to_record(p_audit) AS ${AUDIT_RECORD};
      RETURN v_ca;
    END $fn$;

    CREATE OR REPLACE FUNCTION estuary_record_writes(p_items jsonb, p_ders bytea[], p_origin text)
        RETURNS TABLE (n integer, ca text) LANGUAGE plpgsql AS $fn$
    #variable_conflict use_column
    DECLARE
      item jsonb;
    BEGIN
      IF NOT EXISTS (SELECT 1 FROM jsonb_array_elements(p_items) AS e(v) WHERE v ?| ARRAY['supersede', 'once', 'approved']) THEN
        INSERT INTO certificates (serial, profile, ca, subject, sans, not_before, not_after, der, requester, renews, status, created_at)
          SELECT c.serial, c.profile, c.ca, c.subject, c.sans, c.not_before, c.not_after, p_ders[(e.v->>'d')::integer], c.requester,
            c.renews, 'valid', c.created_at
          FROM jsonb_array_elements(p_items) WITH ORDINALITY AS e(v, i),
            jsonb_to_record(e.v->'c') AS c(serial text, profile text, ca text, subject text, sans text, not_before timestamptz,
              not_after timestamptz, requester text, renews text, created_at timestamptz)
          WHERE e.v ? 'c' ORDER BY e.i;
        ${AUDIT_INSERT}
          FROM jsonb_array_elements(p_items) WITH ORDINALITY AS e(v, i), jsonb_to_record(e.v->'audit') AS ${AUDIT_RECORD}
          ORDER BY e.i;
        RETURN;
      END IF;
      n := 0;
      FOR item IN SELECT value FROM jsonb_array_elements(p_items) LOOP
        n := n + 1;
        ca := NULL;
        IF item ? 'c' THEN
          ca := estuary_record_issuance(item->'c', p_ders[(item->>'d')::integer], item->'audit', item->'supersede',
            COALESCE((item->>'once')::boolean, false), (item->>'approved')::integer, p_origin);
        ELSE
          ${AUDIT_INSERT} FROM jsonb_to_record(item->'audit') AS ${AUDIT_RECORD};
        END IF;
        IF ca IS NOT NULL THEN
          RETURN NEXT;
        END IF;
      END LOOP;
    END $fn$;
  `,
};
