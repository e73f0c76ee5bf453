/**
 * The Store contract's atomicity and change-signal part, called from storeContract() so every
 * implementation runs it: each composite write (revoke, decide, hold) commits its audit event iff
 * the change happened; own writes and another instance's writes reach Store.changes; and a process
 * killed with SIGKILL mid-stream leaves every write it was told about, each with its audit event,
 * and no change without its event nor an event without its change.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewAuditEvent, NewPendingRequest } from '../../src/ra/model.js';
import type { Store, StoreChange } from '../../src/store/store.js';
import { verifyAuditChain } from '../../src/store/audit-chain.js';
import { fullProfile, newCertificate, newEvent } from './store-contract.js';
import type { ChainContractOptions } from './store-contract-chain.js';

/** How a separate process opens the database the last open() made (the crash case). */
export interface ChildStoreSpec {
  /** Absolute path of a compiled ES module that plain node can import (e.g. under dist/). */
  module: string;
  /** The export that opens the store; it may return a promise. */
  export: string;
  /** Its arguments, as JSON. */
  args: unknown[];
}

export interface StoreContractOptions {
  /** Opens a second instance on the database the last open() made, as another process or server would. */
  openAgain: () => Promise<Store>;
  child: () => ChildStoreSpec;
  /**
   * Waits until the database finished what the killed child left in flight. A database server runs
   * a statement to its end after its client died (PostgreSQL commits it, then finds the socket
   * closed), so without this the checks below could read the certificates before such a commit
   * and the audit events after it. An embedded database dies with the process: nothing to wait for.
   */
  settled?: () => Promise<void>;
  /** Raw access to the database for the audit chain cases (store-contract-chain.ts). */
  chain?: ChainContractOptions;
}

interface Told {
  issued: Set<string>;
  revoked: Set<string>;
  held: Set<number>;
  decided: Set<number>;
}

const CHILD = fileURLToPath(new URL('./store-contract-child.mjs', import.meta.url));
/** Another instance's change reaches the signal within 1 s; the contract allows 2. */
const SIGNAL_WAIT_MS = 2000;

function held(overrides: Partial<NewPendingRequest> = {}): NewPendingRequest {
  return {
    profile: 'manual', operation: 'simpleenroll', requester: 'dev@example.com', keyId: Math.random().toString(16).slice(2).padEnd(64, '0'),
    csr: Buffer.from([0x30, 0x00]), subject: 'CN=held', sans: [], keyDescription: 'EC P-256',
    createdAt: new Date('2025-06-01T00:00:00Z'), expiresAt: new Date('2025-06-04T00:00:00Z'), ...overrides,
  };
}

/** An event the database refuses (actor is NOT NULL): the change it goes with must not happen. */
const BROKEN = { ...newEvent({ action: 'broken' }), actor: null } as unknown as NewAuditEvent;

/** Collects a store's change signal; waits (polling, as a cache would) until a change matches. */
function recorder(store: Store) {
  const seen: StoreChange[] = [];
  const stop = store.changes.subscribe((c) => seen.push(c));
  return {
    seen,
    stop,
    async waitFor(match: (c: StoreChange) => boolean): Promise<StoreChange | undefined> {
      const until = Date.now() + SIGNAL_WAIT_MS;
      for (;;) {
        store.changes.poll?.();
        const found = seen.find(match);
        if (found || Date.now() > until) return found;
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
}

export function storeAtomicContract(name: string, open: () => Promise<Store>, cleanup: (() => Promise<void>) | undefined, options: StoreContractOptions): void {
  describe(`Store contract: ${name}: atomic writes and the change signal`, () => {
    let store: Store;
    const others: Store[] = [];

    beforeEach(async () => {
      if (!options?.openAgain || !options.child) throw new Error('storeContract needs options.openAgain and options.child (store-contract-atomic.ts)');
      store = await open();
    });
    afterEach(async () => {
      for (const s of others.splice(0)) await s.close().catch(() => undefined);
      await store.close().catch(() => undefined);
      await cleanup?.();
    });

    describe('composite writes', () => {
      it('revokes with its event once; a second revocation, or an unknown serial, records no event', async () => {
        const cert = newCertificate();
        await store.recordIssuance(cert, newEvent());
        const revoke = (serial: string) => store.revokeCertificate(serial, 'keyCompromise', new Date('2025-06-01T00:00:00Z'), newEvent({ action: 'cert.revoke', serial }));
        expect(await revoke(cert.serial)).toBe(true);
        expect(await revoke(cert.serial)).toBe(false);
        expect(await revoke('0badc0de')).toBe(false);
        expect((await store.listAudit({ action: 'cert.revoke' })).map((e) => e.serial)).toEqual([cert.serial]);
        expect(await store.isRevoked(cert.serial)).toBe(true);
      });

      it('decides a pending request with its event once; deciding it again, or an unknown id, records no event', async () => {
        const request = await store.createPendingRequest(held());
        const decide = (id: number, decision: 'approved' | 'rejected') =>
          store.decidePendingRequest(id, decision, 'officer@example.com', null, new Date('2025-06-02T00:00:00Z'), newEvent({ action: `request.${decision}`, detail: `request ${id}` }));
        expect(await decide(request.id, 'approved')).toBe(true);
        expect(await decide(request.id, 'rejected')).toBe(false);
        expect(await decide(request.id + 1000, 'approved')).toBe(false);
        expect((await store.listAudit({ action: 'request.approved' })).map((e) => e.detail)).toEqual([`request ${request.id}`]);
        expect(await store.listAudit({ action: 'request.rejected' })).toEqual([]);
        expect(await store.getPendingRequest(request.id)).toMatchObject({ status: 'approved' });
      });

      it('holds a request with an event made from it (naming its id), in one transaction', async () => {
        const request = await store.createPendingRequest(held(), (r) => newEvent({ action: 'held', detail: `request ${r.id} held for approval` }));
        expect((await store.listAudit({ action: 'held' })).map((e) => e.detail)).toEqual([`request ${request.id} held for approval`]);
      });

      it('undoes the change when its event cannot be recorded: revoke, decide and hold', async () => {
        const cert = newCertificate();
        await store.recordIssuance(cert, newEvent());
        await expect(store.revokeCertificate(cert.serial, 'keyCompromise', new Date(), BROKEN)).rejects.toThrow();
        expect(await store.isRevoked(cert.serial)).toBe(false);

        const request = await store.createPendingRequest(held());
        await expect(store.decidePendingRequest(request.id, 'approved', 'officer@example.com', null, new Date(), BROKEN)).rejects.toThrow();
        expect(await store.getPendingRequest(request.id)).toMatchObject({ status: 'pending' });

        const before = await store.countPendingRequests();
        await expect(store.createPendingRequest(held({ keyId: 'ee'.repeat(32) }), () => BROKEN)).rejects.toThrow();
        expect(await store.countPendingRequests()).toBe(before);
        expect(await store.listAudit({ action: 'broken' })).toEqual([]);
      });
    });

    describe('change signal', () => {
      it('signals each own write by what it changed', async () => {
        const changes = recorder(store);
        await store.createProfile(fullProfile('iot'));
        expect(await changes.waitFor((c) => c.kind === 'profile' && c.label === 'iot')).toBeDefined();
        await store.updateProfile({ ...fullProfile('iot'), validitySeconds: 3 * 86_400 });
        changes.seen.length = 0;
        await store.createAccount({ email: 'Dev@Example.com', passwordHash: 'h', role: 'est' });
        expect(await changes.waitFor((c) => c.kind === 'account' && c.email === 'dev@example.com')).toBeDefined();
        changes.seen.length = 0;
        await store.setAccountDisabled('dev@example.com', true);
        expect(await changes.waitFor((c) => c.kind === 'account' && c.email === 'dev@example.com')).toBeDefined();
        changes.seen.length = 0;
        await store.setAccountPassword('dev@example.com', 'h2');
        expect(await changes.waitFor((c) => c.kind === 'account' && c.email === 'dev@example.com')).toBeDefined();

        const cert = newCertificate({ ca: 'issuing-2' });
        await store.recordIssuance(cert, newEvent());
        await store.revokeCertificate(cert.serial, 'keyCompromise', new Date(), newEvent({ action: 'cert.revoke' }));
        expect(await changes.waitFor((c) => c.kind === 'revocation' && c.serial === cert.serial && c.ca === 'issuing-2')).toBeDefined();
        changes.stop();
      });

      it('signals a change made through another instance on the same database (a specific change or `any`)', async () => {
        const other = await options.openAgain();
        others.push(other);
        const changes = recorder(store);
        await other.createProfile(fullProfile('iot'));
        expect(await changes.waitFor((c) => c.kind === 'any' || (c.kind === 'profile' && c.label === 'iot'))).toBeDefined();
        expect(await store.getProfile('iot')).toBeDefined();

        changes.seen.length = 0;
        await other.createAccount({ email: 'dev@example.com', passwordHash: 'h', role: 'est' });
        expect(await changes.waitFor((c) => c.kind === 'any' || (c.kind === 'account' && c.email === 'dev@example.com'))).toBeDefined();

        changes.seen.length = 0;
        const cert = newCertificate();
        await store.recordIssuance(cert, newEvent());
        await other.revokeCertificate(cert.serial, 'keyCompromise', new Date());
        expect(await changes.waitFor((c) => c.kind === 'any' || (c.kind === 'revocation' && c.serial === cert.serial))).toBeDefined();
        changes.stop();
      });
    });

    describe('crash', () => {
      /** Runs the child until it told of enough writes, then SIGKILLs it at a point it cannot foresee. */
      async function killMidStream(told: Told): Promise<void> {
        const child = spawn(process.execPath, [CHILD, JSON.stringify(options.child())], { stdio: ['ignore', 'pipe', 'pipe'] });
        const start = { issued: told.issued.size, revoked: told.revoked.size, decided: told.decided.size };
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
        await new Promise<void>((resolve, reject) => {
          let rest = '';
          let killing: NodeJS.Timeout | undefined;
          child.stdout.on('data', (d: Buffer) => {
            const lines = (rest + d.toString()).split('\n');
            rest = lines.pop()!;
            for (const line of lines) {
              const [what, value] = line.split(' ');
              if (what === 'issued') told.issued.add(value!);
              if (what === 'revoked') told.revoked.add(value!);
              if (what === 'held') told.held.add(Number(value));
              if (what === 'decided') told.decided.add(Number(value));
            }
            const enough = told.issued.size - start.issued >= 100 && told.revoked.size - start.revoked >= 10 && told.decided.size - start.decided >= 5;
            if (enough && !killing) killing = setTimeout(() => child.kill('SIGKILL') && resolve(), Math.random() * 50);
          });
          void exited.then((how) => reject(new Error(`the child exited before it was killed (${String(how)}): ${stderr}`)));
        });
        expect(await exited).toBe('SIGKILL');
        await options.settled?.();
      }

      /** Every write the child was told of is there, and changes and their events match one to one. */
      async function expectConsistent(told: Told): Promise<void> {
        const events = async (action: string) => store.listAudit({ action, limit: 1_000_000 });
        const certificates = await store.listCertificates({ profile: 'crash', limit: 1_000_000 });
        const stored = new Set(certificates.map((c) => c.serial));
        const revoked = certificates.filter((c) => c.status === 'revoked').map((c) => c.serial);
        const requests = await store.listPendingRequests({ profile: 'crash', limit: 1_000_000 });
        const ids = new Map(requests.map((r) => [r.id, r]));

        for (const serial of told.issued) expect(stored.has(serial), `issued ${serial}`).toBe(true);
        for (const serial of told.revoked) expect(revoked.includes(serial), `revoked ${serial}`).toBe(true);
        for (const id of told.held) expect(ids.has(id), `held ${id}`).toBe(true);
        for (const id of told.decided) expect(ids.get(id)?.status, `decided ${id}`).toBe('approved');
        expect((await events('crash.issue')).map((e) => e.serial).sort()).toEqual([...stored].sort());
        expect((await events('crash.revoke')).map((e) => e.serial).sort()).toEqual(revoked.sort());
        expect((await events('crash.hold')).map((e) => e.detail).sort()).toEqual(requests.map((r) => `request ${r.id}`).sort());
        expect((await events('crash.decide')).map((e) => e.detail).sort())
          .toEqual(requests.filter((r) => r.status === 'approved').map((r) => `request ${r.id}`).sort());
        // and the audit chain holds: a killed writer leaves no half-made link
        const chain = await verifyAuditChain(store);
        expect(chain.broken).toBeUndefined();
        expect(chain.checked).toBe(await store.countAudit());
      }

      it('a process killed mid-stream leaves every write it was told about, each with its event, and nothing half-done', async () => {
        const told: Told = { issued: new Set(), revoked: new Set(), held: new Set(), decided: new Set() };
        // Several kills at random points: a store that splits a change from its event is caught in most runs.
        for (let round = 0; round < 4; round++) {
          await killMidStream(told);
          await expectConsistent(told);
        }
      });
    });
  });
}
