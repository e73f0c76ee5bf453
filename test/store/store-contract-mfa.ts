/**
 * The second-factor part of the Store contract: TOTP enrolment and confirmation, replay refusal
 * by time step, one-time recovery codes, admin reset, the roles that require a second factor and
 * sign-in challenges. Called from storeContract(), so SQLite and PostgreSQL both run it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SignInChallenge, Store } from '../../src/store/store.js';

const T0 = new Date('2026-06-01T10:00:00.000Z');
const at = (ms: number): Date => new Date(T0.getTime() + ms);
const hash = (code: string) => createHash('sha256').update(code).digest('hex');
const STEP = 59_340_000;

export function storeMfaContract(name: string, open: () => Promise<Store>, cleanup?: () => Promise<void>): void {
  describe(`Store contract: ${name}: second factor`, () => {
    let store: Store;

    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close().catch(() => undefined);
      await cleanup?.();
    });

    it('enrols: a waiting secret, restartable, confirmed once with its recovery codes; then no new enrolment', async () => {
      expect(await store.getMfa('ann@example.com')).toBeUndefined();
      expect(await store.beginMfaEnrolment('Ann@Example.com', 'AAAASECRETONE', T0)).toBe(true);
      expect(await store.getMfa('ann@example.com')).toEqual({
        email: 'ann@example.com', secret: 'AAAASECRETONE', confirmedAt: null, lastStep: null, recoveryCodesLeft: 0, createdAt: T0,
      });
      expect(await store.listMfaEnrolled()).toEqual([]);
      // restarting replaces the waiting secret; confirming the old one fails
      expect(await store.beginMfaEnrolment('ann@example.com', 'BBBBSECRETTWO', at(1000))).toBe(true);
      expect(await store.confirmMfa('ann@example.com', 'AAAASECRETONE', STEP, [hash('x')], at(2000))).toBe(false);
      const codes = Array.from({ length: 10 }, (_, i) => hash(`code-${i}`));
      expect(await store.confirmMfa('ANN@example.com', 'BBBBSECRETTWO', STEP, codes, at(2000))).toBe(true);
      expect(await store.getMfa('ann@example.com')).toEqual({
        email: 'ann@example.com', secret: 'BBBBSECRETTWO', confirmedAt: at(2000), lastStep: STEP, recoveryCodesLeft: 10, createdAt: at(1000),
      });
      expect(await store.confirmMfa('ann@example.com', 'BBBBSECRETTWO', STEP + 1, codes, at(3000))).toBe(false); // once
      expect(await store.beginMfaEnrolment('ann@example.com', 'CCCCSECRET', at(4000))).toBe(false); // confirmed: reset first
      expect((await store.getMfa('ann@example.com'))?.secret).toBe('BBBBSECRETTWO');
      expect(await store.listMfaEnrolled()).toEqual(['ann@example.com']);
    });

    it('accepts each time step once and only later ones (replay), also when two callers race', async () => {
      expect(await store.useMfaStep('bob@example.com', STEP)).toBe(false); // nothing enrolled
      await store.beginMfaEnrolment('bob@example.com', 'SECRET', T0);
      expect(await store.useMfaStep('bob@example.com', STEP)).toBe(false); // not confirmed yet
      await store.confirmMfa('bob@example.com', 'SECRET', STEP, [], T0);
      expect(await store.useMfaStep('bob@example.com', STEP)).toBe(false); // the confirming code's step is used
      expect(await store.useMfaStep('bob@example.com', STEP - 1)).toBe(false);
      const race = await Promise.all([store.useMfaStep('bob@example.com', STEP + 1), store.useMfaStep('Bob@example.com', STEP + 1)]);
      expect(race.filter(Boolean)).toHaveLength(1);
      expect((await store.getMfa('bob@example.com'))?.lastStep).toBe(STEP + 1);
      expect(await store.useMfaStep('bob@example.com', STEP + 3)).toBe(true);
      expect(await store.useMfaStep('bob@example.com', STEP + 2)).toBe(false);
    });

    it('uses each recovery code once, only its own account\'s, replaces them, and reset removes the factor and its codes', async () => {
      await store.beginMfaEnrolment('cat@example.com', 'SECRET', T0);
      expect(await store.useRecoveryCode('cat@example.com', hash('r1'), T0)).toBe(false);
      await store.confirmMfa('cat@example.com', 'SECRET', STEP, [hash('r1'), hash('r2')], T0);
      await store.beginMfaEnrolment('dan@example.com', 'OTHER', T0);
      await store.confirmMfa('dan@example.com', 'OTHER', STEP, [hash('d1')], T0);
      expect(await store.useRecoveryCode('cat@example.com', hash('d1'), T0)).toBe(false);
      expect(await store.useRecoveryCode('cat@example.com', hash('r1'), at(1000))).toBe(true);
      expect(await store.useRecoveryCode('CAT@example.com', hash('r1'), at(2000))).toBe(false);
      expect((await store.getMfa('cat@example.com'))?.recoveryCodesLeft).toBe(1);

      // new codes replace the old ones, used or not; only for a confirmed factor
      expect(await store.replaceRecoveryCodes('Cat@example.com', [hash('r3'), hash('r4'), hash('r5')])).toBe(true);
      expect((await store.getMfa('cat@example.com'))?.recoveryCodesLeft).toBe(3);
      expect(await store.useRecoveryCode('cat@example.com', hash('r2'), T0)).toBe(false);
      expect(await store.useRecoveryCode('cat@example.com', hash('r4'), T0)).toBe(true);
      expect(await store.replaceRecoveryCodes('nobody@example.com', [hash('x')])).toBe(false);
      await store.beginMfaEnrolment('fay@example.com', 'WAITING', T0);
      expect(await store.replaceRecoveryCodes('fay@example.com', [hash('x')])).toBe(false);
      expect((await store.getMfa('fay@example.com'))?.recoveryCodesLeft).toBe(0);

      expect(await store.resetMfa('cat@example.com')).toBe(true);
      expect(await store.getMfa('cat@example.com')).toBeUndefined();
      expect(await store.useRecoveryCode('cat@example.com', hash('r2'), T0)).toBe(false);
      expect(await store.resetMfa('cat@example.com')).toBe(false);
      expect(await store.listMfaEnrolled()).toEqual(['dan@example.com']);
      // enrolling again starts clean: the old codes are gone
      await store.beginMfaEnrolment('cat@example.com', 'NEW', T0);
      await store.confirmMfa('cat@example.com', 'NEW', STEP, [hash('n1')], T0);
      expect((await store.getMfa('cat@example.com'))?.recoveryCodesLeft).toBe(1);
      expect(await store.useRecoveryCode('cat@example.com', hash('r2'), T0)).toBe(false);
    });

    it('keeps the roles that require a second factor', async () => {
      expect(await store.getMfaRequiredRoles()).toEqual([]);
      await store.setMfaRequiredRoles(['officer', 'admin', 'admin']);
      expect(await store.getMfaRequiredRoles()).toEqual(['admin', 'officer']);
      await store.setMfaRequiredRoles(['auditor', 'officer']);
      expect(await store.getMfaRequiredRoles()).toEqual(['officer', 'auditor']);
      await store.setMfaRequiredRoles([]);
      expect(await store.getMfaRequiredRoles()).toEqual([]);
    });

    it('keeps sign-in challenges: created, read, removed once; removing one drops the expired', async () => {
      const c = (next: SignInChallenge['next'], expiresAt: Date): SignInChallenge => ({
        id: randomBytes(32).toString('hex'), email: 'eve@example.com', next, createdAt: T0, expiresAt,
      });
      const a = c('code', at(300_000));
      const old = c('enrol', at(10_000));
      await store.createSignInChallenge(a);
      await store.createSignInChallenge(old);
      expect(await store.getSignInChallenge(a.id)).toEqual(a);
      expect(await store.getSignInChallenge(old.id)).toEqual(old);
      await expect(store.createSignInChallenge(a)).rejects.toThrow();
      const removed = await Promise.all([store.deleteSignInChallenge(a.id, at(60_000)), store.deleteSignInChallenge(a.id, at(60_000))]);
      expect(removed.filter(Boolean)).toHaveLength(1);
      expect(await store.getSignInChallenge(a.id)).toBeUndefined();
      expect(await store.getSignInChallenge(old.id)).toBeUndefined(); // expired at 10 s, purged at 60 s
    });
  });
}
