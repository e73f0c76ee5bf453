/**
 * The API-token part of the Store contract (admin/api-tokens.ts): create, find by the secret's
 * hash, list newest first, last use, revoke, and a name unique among the tokens not revoked.
 * Called from storeContract(), so every implementation runs it.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreConflictError, type NewApiToken, type Store } from '../../src/store/store.js';

const T0 = new Date('2026-06-01T10:00:00.000Z');
const at = (minutes: number): Date => new Date(T0.getTime() + minutes * 60_000);

function token(overrides: Partial<NewApiToken> = {}): NewApiToken {
  return {
    name: 'ci', secretHash: randomBytes(32).toString('hex'), hint: 'est_Ab3x', role: 'officer', createdBy: 'admin@example.com',
    createdAt: T0, expiresAt: at(90 * 24 * 60), ...overrides,
  };
}

export function storeApiTokenContract(name: string, open: () => Promise<Store>, cleanup?: () => Promise<void>): void {
  describe(`Store contract: ${name}: API tokens`, () => {
    let store: Store;

    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close().catch(() => undefined);
      await cleanup?.();
    });

    it('creates a token and finds it by the hash of its secret, by id and in the list (newest first)', async () => {
      const first = await store.createApiToken(token({ name: 'deploy', role: 'admin' }));
      const t = token();
      const created = await store.createApiToken(t);
      expect(created).toEqual({ ...t, id: created.id, lastUsedAt: null, revokedAt: null, revokedBy: null });
      expect(created.id).not.toBe(first.id);
      expect(await store.findApiToken(t.secretHash)).toEqual(created);
      expect(await store.findApiToken('0'.repeat(64))).toBeUndefined();
      expect(await store.getApiToken(created.id)).toEqual(created);
      expect(await store.getApiToken(created.id + 1000)).toBeUndefined();
      expect((await store.listApiTokens()).map((x) => x.name)).toEqual(['ci', 'deploy']);
    });

    it('records the last use, never moving it back', async () => {
      const created = await store.createApiToken(token());
      expect(await store.touchApiToken(created.id, at(5))).toBe(true);
      expect((await store.getApiToken(created.id))!.lastUsedAt).toEqual(at(5));
      expect(await store.touchApiToken(created.id, at(3))).toBe(true);
      expect((await store.getApiToken(created.id))!.lastUsedAt).toEqual(at(5));
      expect(await store.touchApiToken(created.id, at(9))).toBe(true);
      expect((await store.findApiToken(created.secretHash))!.lastUsedAt).toEqual(at(9));
      expect(await store.touchApiToken(created.id + 1000, at(9))).toBe(false);
    });

    it('revokes once, recording who and when; a revoked token keeps its row', async () => {
      const created = await store.createApiToken(token());
      expect(await store.revokeApiToken(created.id, 'officer@example.com', at(10))).toBe(true);
      expect(await store.revokeApiToken(created.id, 'someone-else', at(11))).toBe(false);
      expect(await store.revokeApiToken(created.id + 1000, 'x', at(11))).toBe(false);
      expect(await store.findApiToken(created.secretHash)).toMatchObject({ revokedAt: at(10), revokedBy: 'officer@example.com' });
    });

    it('refuses a second token of the same name until the first is revoked', async () => {
      const first = await store.createApiToken(token());
      await expect(store.createApiToken(token())).rejects.toBeInstanceOf(StoreConflictError);
      await expect(store.createApiToken(token())).rejects.toThrow(/a token named ci already exists/);
      expect(await store.listApiTokens()).toHaveLength(1);
      await store.revokeApiToken(first.id, 'admin@example.com', at(1));
      const second = await store.createApiToken(token());
      expect(second.id).not.toBe(first.id);
      expect((await store.listApiTokens()).map((x) => [x.id, x.revokedAt === null])).toEqual([[second.id, true], [first.id, false]]);
    });
  });
}
