/**
 * The Store contract's audit trail part (store/audit-chain.ts), run on every implementation: each
 * event records its client address and request id, and every insert path appends to one hash
 * chain that `verifyAuditChain` checks; a changed, deleted or unlinked event is found by its id.
 */
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runInRequest } from '../../src/http/request-context.js';
import { auditHash, GENESIS_HASH, verifyAuditChain } from '../../src/store/audit-chain.js';
import type { Store } from '../../src/store/store.js';
import type { StoreContractOptions } from './store-contract-atomic.js';
import { newCertificate, newEvent } from './store-contract.js';

/** What the chain cases need beyond the Store: raw statements on its database, as someone with database access could run. */
export interface ChainContractOptions {
  /** Runs one SQL statement on the database the last open() made. */
  sql: (statement: string) => Promise<void>;
  /** Inserts an event as a version without the chain did (no seq, prev_hash or hash). */
  insertUnchained: (action: string) => Promise<void>;
}

/** ChainContractOptions for a SQLite file. */
export function sqliteChainOptions(file: () => string): ChainContractOptions {
  const raw = (statement: string) => {
    const db = new Database(file());
    try {
      db.exec(statement);
    } finally {
      db.close();
    }
  };
  return {
    sql: async (statement) => raw(statement),
    insertUnchained: async (action) => raw(`INSERT INTO audit_events (at, actor, action, outcome) VALUES ('${new Date().toISOString()}', 'old', '${action}', 'success')`),
  };
}

export function storeChainContract(name: string, open: () => Promise<Store>, cleanup: (() => Promise<void>) | undefined, options: StoreContractOptions): void {
  describe(`Store contract: ${name}: audit origin and hash chain`, () => {
    let store: Store;
    const chain = (): ChainContractOptions => {
      if (!options.chain) throw new Error('storeContract needs options.chain (store-contract-chain.ts)');
      return options.chain;
    };
    const idOf = async (action: string): Promise<number> => (await store.listAudit({ action }))[0]!.id;

    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close().catch(() => undefined);
      await cleanup?.();
    });

    it('records the client address and request id given, or those of the request being served, else none', async () => {
      await store.appendAudit(newEvent({ action: 'given', clientIp: '192.0.2.7', requestId: 'given-1' }));
      await runInRequest({ requestId: 'req-ctx', clientIp: '2001:db8::5' }, async () => {
        await store.appendAudit(newEvent({ action: 'served' }));
        await store.recordIssuance(newCertificate(), newEvent({ action: 'served.issue' }));
      });
      await store.appendAudit(newEvent({ action: 'none' }));
      const byAction = new Map((await store.listAudit()).map((e) => [e.action, e]));
      expect(byAction.get('given')).toMatchObject({ clientIp: '192.0.2.7', requestId: 'given-1' });
      expect(byAction.get('served')).toMatchObject({ clientIp: '2001:db8::5', requestId: 'req-ctx' });
      expect(byAction.get('served.issue')).toMatchObject({ clientIp: '2001:db8::5', requestId: 'req-ctx' });
      expect(byAction.get('none')).toMatchObject({ clientIp: null, requestId: null });
    });

    it('pages the audit list newest first after a keyset cursor (the export), with the filters', async () => {
      const t = (s: string) => new Date(`2025-01-01T00:00:0${s}.000Z`);
      for (const [action, at] of [['e1', '1'], ['e2', '2'], ['e3', '2'], ['e4', '3'], ['other', '2']] as const) {
        await store.appendAudit(newEvent({ action, at: t(at), profile: action === 'other' ? 'x' : 'default' }));
      }
      const all = await store.listAudit({ profile: 'default' });
      expect(all.map((e) => e.action)).toEqual(['e4', 'e3', 'e2', 'e1']);
      const after = (e: { at: Date; id: number }) => ({ at: e.at, id: e.id });
      expect((await store.listAudit({ profile: 'default', before: after(all[0]!), limit: 2 })).map((e) => e.action)).toEqual(['e3', 'e2']);
      expect((await store.listAudit({ profile: 'default', before: after(all[1]!) })).map((e) => e.action)).toEqual(['e2', 'e1']);
      expect(await store.listAudit({ profile: 'default', before: after(all[3]!) })).toEqual([]);
    });

    it('chains every insert path in one sequence that verifies', async () => {
      const cert = newCertificate();
      await store.appendAudit(newEvent({ action: 'first', detail: 'ünïcode ✓ "quoted"', profile: null }));
      await store.recordIssuance(cert, newEvent({ action: 'issue', serial: cert.serial }));
      await store.revokeCertificate(cert.serial, 'keyCompromise', new Date(), newEvent({ action: 'revoke', serial: cert.serial }));
      const held = await store.createPendingRequest({
        profile: 'manual', operation: 'simpleenroll', requester: 'dev@example.com', keyId: 'ab'.repeat(32), csr: Buffer.from([0x30, 0x00]),
        subject: 'CN=held', sans: [], keyDescription: 'EC P-256', createdAt: new Date(), expiresAt: new Date(Date.now() + 3_600_000),
      }, (r) => newEvent({ action: 'hold', detail: `request ${r.id}` }));
      await store.decidePendingRequest(held.id, 'approved', 'officer@example.com', null, new Date(), newEvent({ action: 'decide' }));
      const links = await store.auditChainPage(0, 100);
      expect(links.map((l) => l.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(links.map((l) => l.action)).toEqual(['first', 'issue', 'revoke', 'hold', 'decide']);
      expect(links[0]!.prevHash).toBe(GENESIS_HASH);
      for (let i = 1; i < links.length; i++) expect(links[i]!.prevHash).toBe(links[i - 1]!.hash);
      expect(links.every((l) => /^[0-9a-f]{64}$/.test(l.hash))).toBe(true);
      expect(await store.auditChainPage(3, 1)).toEqual([links[3]]);
      const report = await verifyAuditChain(store);
      expect(report).toEqual({ checked: 5, unchained: 0, head: { seq: 5, hash: links[4]!.hash } });
    });

    it('keeps one chain while two instances append at once', async () => {
      const other = await options.openAgain();
      try {
        await Promise.all(Array.from({ length: 40 }, (_, i) => {
          const s = i % 2 ? store : other;
          return i % 3 ? s.appendAudit(newEvent({ action: `a${i}` })) : s.recordIssuance(newCertificate(), newEvent({ action: `i${i}` }));
        }));
      } finally {
        await other.close();
      }
      const report = await verifyAuditChain(store);
      expect(report.broken).toBeUndefined();
      expect(report.checked).toBe(40);
    });

    it('finds a changed event by its id', async () => {
      for (const action of ['one', 'two', 'three']) await store.appendAudit(newEvent({ action }));
      const id = await idOf('two');
      await chain().sql(`UPDATE audit_events SET detail = 'forged' WHERE id = ${id}`);
      const report = await verifyAuditChain(store);
      expect(report.broken).toMatchObject({ id, seq: 2 });
      expect(report.broken!.reason).toMatch(/the event was changed/);
      expect(report.checked).toBe(1);
    });

    it('finds a deleted event at the event after it', async () => {
      for (const action of ['one', 'two', 'three', 'four']) await store.appendAudit(newEvent({ action }));
      await chain().sql(`DELETE FROM audit_events WHERE id = ${await idOf('two')}`);
      const report = await verifyAuditChain(store);
      expect(report.broken).toMatchObject({ id: await idOf('three'), seq: 3 });
      expect(report.broken!.reason).toMatch(/jumps from seq 1 to 3: 1 event\(s\) before it were deleted/);
    });

    it('finds a changed event whose hash was recomputed: the next one no longer links to it', async () => {
      for (const action of ['one', 'two', 'three']) await store.appendAudit(newEvent({ action }));
      const two = (await store.auditChainPage(1, 1))[0]!;
      const forged = auditHash({ ...two, detail: 'forged' });
      await chain().sql(`UPDATE audit_events SET detail = 'forged', hash = '${forged}' WHERE id = ${two.id}`);
      const report = await verifyAuditChain(store);
      expect(report.broken).toMatchObject({ id: await idOf('three'), seq: 3 });
      expect(report.broken!.reason).toMatch(/is not the hash of event seq 2/);
    });

    it('starts after the events recorded before the chain, and finds an event unlinked after it began', async () => {
      await chain().insertUnchained('legacy-1');
      await chain().insertUnchained('legacy-2');
      for (const action of ['one', 'two', 'three']) await store.appendAudit(newEvent({ action }));
      expect(await store.auditChainStart()).toEqual({ unchained: 2, lastUnchainedId: await idOf('legacy-2') });
      const ok = await verifyAuditChain(store);
      expect(ok).toMatchObject({ checked: 3, unchained: 2 });
      expect(ok.broken).toBeUndefined();
      const three = await idOf('three');
      await chain().sql(`UPDATE audit_events SET seq = NULL, prev_hash = NULL, hash = NULL WHERE id = ${three}`);
      const report = await verifyAuditChain(store);
      expect(report.broken).toMatchObject({ id: three, seq: null });
      expect(report.broken!.reason).toMatch(/no chain link/);
    });

    it('checks an anchored head: a deleted tail is found', async () => {
      for (const action of ['one', 'two', 'three']) await store.appendAudit(newEvent({ action }));
      const head = (await verifyAuditChain(store)).head!;
      expect(head.seq).toBe(3);
      expect((await verifyAuditChain(store, head)).broken).toBeUndefined();
      await chain().sql(`DELETE FROM audit_events WHERE id = ${await idOf('three')}`);
      const report = await verifyAuditChain(store, head);
      expect(report.broken).toMatchObject({ id: null, seq: 3 });
      expect(report.broken!.reason).toMatch(/ends at seq 2/);
    });
  });
}
