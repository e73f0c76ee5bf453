/** The in-memory revoked sets: follow-up reads pick up new revocations, a mismatch reads everything again. */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRevokedSets } from '../../src/ra/revoked-set.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite-store.js';
import { insertRevoked } from '../helpers/bulk-revoked.js';
import { tempDir } from '../helpers/home.js';

let store: SqliteStore;
let dbPath: string;

beforeAll(() => {
  dbPath = join(tempDir(), 'sets.db');
  store = openSqliteStore(dbPath);
});
afterAll(async () => {
  await store.close();
});

describe('revoked sets', () => {
  it('stays equal to a full read through additions, an old-dated revocation from elsewhere, concurrent calls and a deletion', async () => {
    const sets = createRevokedSets(store);
    const get = async () => [...(await sets.get('default', await store.revocationSummary('default')))];
    insertRevoked(dbPath, { ca: 'default', count: 12_000, prefix: '4a', revokedAt: new Date('2026-01-01T00:00:00Z') });
    expect(await get()).toEqual(await store.listRevoked('default'));

    insertRevoked(dbPath, { ca: 'default', count: 3, prefix: '4b', revokedAt: new Date('2026-01-01T00:00:00Z') }); // same time, other serials
    insertRevoked(dbPath, { ca: 'default', count: 2, prefix: '4c', revokedAt: new Date('2026-01-02T00:00:00Z') });
    expect(await get()).toEqual(await store.listRevoked('default'));

    insertRevoked(dbPath, { ca: 'default', count: 1, prefix: '4d', revokedAt: new Date('2025-06-01T00:00:00Z') }); // far older: outside the window
    expect(await get()).toEqual(await store.listRevoked('default'));

    insertRevoked(dbPath, { ca: 'default', count: 1, prefix: '4e', revokedAt: new Date('2026-01-03T00:00:00Z') });
    const [a, b] = await Promise.all([get(), get()]);
    expect(a).toEqual(await store.listRevoked('default'));
    expect(b).toEqual(a);

    const raw = new Database(dbPath);
    raw.prepare("DELETE FROM certificates WHERE serial LIKE '4c%'").run();
    raw.close();
    expect(await store.revocationSummary('default')).toMatchObject({ count: 12_005 });
    expect(await get()).toEqual(await store.listRevoked('default'));
    expect(await get()).toHaveLength(12_005);
  });
});
