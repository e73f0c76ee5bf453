/**
 * The Store contract for a profile's life: validity in seconds (short-lived certificates), delete
 * only when nothing names the profile, retire otherwise (disabled for good), and account deletion.
 * Called from storeContract (store-contract.ts), so it runs on SQLite and PostgreSQL alike.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store, StoreChange } from '../../src/store/store.js';
import { fullProfile, newCertificate, newEvent } from './store-contract.js';

const held = (profile: string) => ({
  profile, operation: 'simpleenroll', requester: 'dev@example.com', keyId: 'ef'.repeat(32), csr: Buffer.from([0x30, 0x00]),
  subject: 'CN=held', sans: [], keyDescription: 'EC P-256', createdAt: new Date('2025-06-01T00:00:00Z'), expiresAt: new Date('2025-06-04T00:00:00Z'),
});

export function storeLifecycleContract(name: string, open: () => Promise<Store>, cleanup?: () => Promise<void>): void {
  describe(`Store contract: ${name}: profile and account lifecycle`, () => {
    let store: Store;
    let seen: StoreChange[];
    beforeEach(async () => {
      store = await open();
      seen = [];
      store.changes.subscribe((c) => seen.push(c));
    });
    afterEach(async () => {
      await store.close().catch(() => undefined);
      await cleanup?.();
    });

    it('keeps a validity of minutes, hours and odd seconds exactly, through create, update and list', async () => {
      await store.createProfile({ ...fullProfile('short'), validitySeconds: 90 * 60 });
      expect((await store.getProfile('short'))!.validitySeconds).toBe(5400);
      expect(await store.updateProfile({ ...fullProfile('short'), validitySeconds: 8 * 3600 + 7 })).toBe(true);
      expect((await store.getProfile('short'))!.validitySeconds).toBe(28_807);
      await store.createProfile({ ...fullProfile('long'), validitySeconds: 3650 * 86_400 });
      expect((await store.listProfiles()).map((p) => [p.label, p.validitySeconds, p.retiredAt])).toEqual([['long', 3650 * 86_400, null], ['short', 28_807, null]]);
    });

    it('deletes a profile nothing names (the label is free again), tells the change; missing for an unknown label', async () => {
      await store.createProfile(fullProfile('unused'));
      seen.length = 0;
      expect(await store.deleteProfile('unused')).toBe('deleted');
      expect(seen).toContainEqual({ kind: 'profile', label: 'unused' });
      expect(await store.getProfile('unused')).toBeUndefined();
      expect(await store.deleteProfile('unused')).toBe('missing');
      await store.createProfile({ ...fullProfile('unused'), validitySeconds: 120 });
      expect((await store.getProfile('unused'))!.validitySeconds).toBe(120);
    });

    it('refuses to delete a profile a certificate or a request names: in-use, and nothing changes', async () => {
      await store.createProfile(fullProfile('issued'));
      await store.recordIssuance(newCertificate({ profile: 'issued' }), newEvent({ profile: 'issued' }));
      await store.createProfile(fullProfile('asked'));
      await store.createPendingRequest(held('asked'));
      seen.length = 0;
      expect(await store.deleteProfile('issued')).toBe('in-use');
      expect(await store.deleteProfile('asked')).toBe('in-use');
      expect(seen).toEqual([]);
      expect(await store.getProfile('issued')).toBeDefined();
      expect(await store.getProfile('asked')).toBeDefined();
    });

    it('retires a profile once: disabled, retiredAt set, updates cannot enable it again; its certificates stay', async () => {
      await store.createProfile({ ...fullProfile('old'), enabled: true });
      const cert = newCertificate({ profile: 'old' });
      await store.recordIssuance(cert, newEvent({ profile: 'old' }));
      const at = new Date('2026-03-04T05:06:07.000Z');
      seen.length = 0;
      expect(await store.retireProfile('old', at)).toBe(true);
      expect(seen).toContainEqual({ kind: 'profile', label: 'old' });
      expect(await store.getProfile('old')).toMatchObject({ enabled: false, retiredAt: at });
      expect(await store.retireProfile('old', new Date())).toBe(false);
      expect(await store.retireProfile('nope', at)).toBe(false);
      expect(await store.updateProfile({ ...fullProfile('old'), enabled: true, validitySeconds: 600 })).toBe(true);
      expect(await store.getProfile('old')).toMatchObject({ enabled: false, retiredAt: at, validitySeconds: 600 });
      expect((await store.getCertificate(cert.serial))?.status).toBe('valid');
      expect((await store.listProfiles()).find((p) => p.label === 'old')?.retiredAt).toEqual(at);
    });

    it('deletes an account (email case ignored) and its Web RA sessions; false when there is none', async () => {
      await store.createAccount({ email: 'gone@example.com', passwordHash: 'h', role: 'officer' });
      const now = new Date();
      const session = { id: 'a'.repeat(64), email: 'gone@example.com', role: 'officer' as const, csrfToken: 'c', createdAt: now, lastSeenAt: now, expiresAt: new Date(now.getTime() + 3_600_000) };
      await store.createSession(session);
      seen.length = 0;
      expect(await store.deleteAccount('Gone@Example.com')).toBe(true);
      expect(seen).toContainEqual({ kind: 'account', email: 'gone@example.com' });
      expect(await store.getAccount('gone@example.com')).toBeUndefined();
      expect(await store.getSession(session.id)).toBeUndefined();
      expect(await store.deleteAccount('gone@example.com')).toBe(false);
      await store.createAccount({ email: 'gone@example.com', passwordHash: 'h2', role: 'est' });
      expect((await store.getAccount('gone@example.com'))?.role).toBe('est');
    });
  });
}
