/**
 * The SQLite store's change signal: its writer thread's group commits (every issuance) move
 * PRAGMA data_version but are not another process's change; a CLI's commit is, seen by poll()
 * on the next event-loop turn (data_version is read at most once per turn).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite-store.js';
import type { StoreChange } from '../../src/store/store.js';
import { fullProfile, newCertificate, newEvent } from './store-contract.js';

const nextTurn = () => new Promise((r) => setImmediate(r));

describe('SqliteStore change signal', () => {
  let dir: string;
  let file: string;
  let server: SqliteStore;
  let cli: SqliteStore;
  let seen: StoreChange[];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'estuary-changes-'));
    file = join(dir, 'estuary.db');
    server = openSqliteStore(file);
    cli = openSqliteStore(file);
    seen = [];
    server.changes.subscribe((c) => seen.push(c));
  });
  afterEach(async () => {
    await server.close();
    await cli.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('does not signal its own issuances, audit events, holds or decisions as another process\'s change', async () => {
    await server.createProfile(fullProfile('iot'));
    for (let i = 0; i < 5; i++) {
      await Promise.all(Array.from({ length: 8 }, () => {
        const cert = newCertificate();
        return server.recordIssuance(cert, newEvent({ serial: cert.serial }));
      }));
      await server.appendAudit(newEvent({ action: 'other' }));
      await nextTurn();
      server.changes.poll!();
    }
    const held = await server.createPendingRequest({
      profile: 'iot', operation: 'simpleenroll', requester: 'dev@example.com', keyId: 'ab'.repeat(32), csr: Buffer.from([0x30, 0x00]),
      subject: 'CN=held', sans: [], keyDescription: 'EC P-256', createdAt: new Date(), expiresAt: new Date(Date.now() + 3_600_000),
    });
    await server.decidePendingRequest(held.id, 'approved', 'officer@example.com', null, new Date());
    await nextTurn();
    server.changes.poll!();
    expect(seen).toEqual([{ kind: 'profile', label: 'iot' }]);
  });

  it('signals its own revocation by CA and serial, and no `any` for it afterwards', async () => {
    const cert = newCertificate({ ca: 'issuing-2' });
    await server.recordIssuance(cert, newEvent());
    expect(await server.revokeCertificate(cert.serial, 'keyCompromise', new Date())).toBe(true);
    expect(seen).toEqual([{ kind: 'revocation', ca: 'issuing-2', serial: cert.serial }]);
    await server.recordIssuance(newCertificate(), newEvent()); // moves data_version again
    await nextTurn();
    server.changes.poll!();
    expect(seen).toHaveLength(1);
  });

  it('signals a supersede done in a renewal\'s transaction', async () => {
    const old = newCertificate({ ca: 'issuing-2' });
    await server.recordIssuance(old, newEvent());
    const renewal = newCertificate({ ca: 'issuing-2', renews: old.serial });
    await server.recordIssuance(renewal, newEvent(), { renewal: { supersede: { at: new Date(), event: newEvent({ action: 'cert.supersede' }) } } });
    expect(seen).toEqual([{ kind: 'revocation', ca: 'issuing-2', serial: old.serial }]);
  });

  it('signals another process\'s change as `any` on the next turn, reading data_version once per turn', async () => {
    server.changes.poll!();
    await cli.createProfile(fullProfile('iot'));
    server.changes.poll!(); // the same turn: the version read before still stands
    expect(seen).toEqual([]);
    await nextTurn();
    server.changes.poll!();
    expect(seen).toEqual([{ kind: 'any' }]);
    await nextTurn();
    server.changes.poll!();
    expect(seen).toHaveLength(1); // signalled once
  });

  it('signals a change made outside Estuary (the sqlite3 shell), and one made between its own writes', async () => {
    const raw = new Database(file);
    try {
      raw.prepare(`UPDATE accounts SET disabled = 1`).run(); // no rows: no change
      await server.createAccount({ email: 'dev@example.com', passwordHash: 'h', role: 'est' });
      raw.prepare(`UPDATE accounts SET disabled = 1 WHERE email = 'dev@example.com'`).run();
      await server.createProfile(fullProfile('iot')); // its own write comes after the shell's
      seen.length = 0;
      await nextTurn();
      server.changes.poll!();
      expect(seen).toEqual([{ kind: 'any' }]);
    } finally {
      raw.close();
    }
  });
});
