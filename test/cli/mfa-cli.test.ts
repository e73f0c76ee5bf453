/**
 * `estuary account mfa-reset`, `mfa-policy` and the MFA column of `estuary account list`, run as the built
 * command against a real home (its SQLite file), with the second factor enrolled through the store.
 */
import { cliActor } from '../../src/cli/cli-actor.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/cli/config.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite-store.js';
import { estuary } from '../helpers/cli.js';
import { makeHome, sqlitePath, type TestHome } from '../helpers/home.js';

let h: TestHome;
let store: SqliteStore;

beforeAll(async () => {
  h = await makeHome();
  store = openSqliteStore(sqlitePath(loadConfig(h.home, {})));
});
afterAll(async () => {
  await store?.close();
});

describe('estuary account mfa-policy', () => {
  it('shows and sets the roles that require a second factor, audited; refuses an unknown role', async () => {
    expect((await estuary(['account', 'mfa-policy', '--home', h.home])).stdout).toBe('a second factor is optional for every role\n');
    const set = await estuary(['account', 'mfa-policy', '--require', 'officer,admin', '--home', h.home]);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toBe('a second factor is required for: admin, officer\n');
    expect(await store.getMfaRequiredRoles()).toEqual(['admin', 'officer']);
    const bad = await estuary(['account', 'mfa-policy', '--require', 'est', '--home', h.home]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--require: expected roles among admin, officer, auditor \(or none\), got "est"/);
    expect((await estuary(['account', 'mfa-policy', '--require', 'none', '--home', h.home])).stdout).toBe('a second factor is optional for every role\n');
    expect((await store.listAudit({ action: 'mfa.policy' })).map((e) => e.detail)).toEqual([
      'second factor required for: (no role) (was: admin, officer)', 'second factor required for: admin, officer (was: (no role))',
    ]);
  });
});

describe('estuary account mfa-reset', () => {
  it('shows MFA in the list, resets it (sessions ended, audited), and says why it cannot', async () => {
    expect((await estuary(['account', 'add', 'ops@example.com', '--role', 'officer', '--home', h.home])).code).toBe(0);
    await store.beginMfaEnrolment('ops@example.com', 'JBSWY3DPEHPK3PXP', new Date());
    await store.confirmMfa('ops@example.com', 'JBSWY3DPEHPK3PXP', 1, ['aa'], new Date());
    const now = new Date();
    await store.createSession({ id: 'f'.repeat(64), email: 'ops@example.com', role: 'officer', csrfToken: 'x', createdAt: now, lastSeenAt: now, expiresAt: new Date(now.getTime() + 3_600_000) });

    const list = await estuary(['account', 'list', '--home', h.home]);
    expect(list.stdout).toMatch(/^EMAIL +ROLE +STATUS +MFA +SELF-SERVICE +CREATED/);
    expect(list.stdout).toMatch(/ops@example.com +officer +active +totp /);
    expect(list.stdout).toMatch(/admin@estuary.local +admin +active +none /);
    expect(list.stdout).toMatch(/est@estuary.local +est +active +- /);
    const json = JSON.parse((await estuary(['account', 'list', '--json', '--home', h.home])).stdout) as Array<{ email: string; mfa: boolean }>;
    expect(json.find((a) => a.email === 'ops@example.com')?.mfa).toBe(true);
    expect(JSON.stringify(json)).not.toContain('JBSWY3DPEHPK3PXP');

    const reset = await estuary(['account', 'mfa-reset', 'OPS@example.com', '--home', h.home]);
    expect(reset.code, reset.stderr).toBe(0);
    expect(reset.stdout).toBe('second factor of ops@example.com reset; its Web RA sessions ended\n');
    expect(await store.getMfa('ops@example.com')).toBeUndefined();
    expect(await store.getSession('f'.repeat(64))).toBeUndefined();
    expect((await store.listAudit({ action: 'account.mfa.reset' }))[0]).toMatchObject({ actor: cliActor(), detail: 'ops@example.com: second factor and recovery codes removed, sessions ended' });
    expect((await estuary(['account', 'list', '--home', h.home])).stdout).toMatch(/ops@example.com +officer +active +none /);

    const again = await estuary(['account', 'mfa-reset', 'ops@example.com', '--home', h.home]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/ops@example.com has no second factor/);
    expect((await estuary(['account', 'mfa-reset', 'nobody@example.com', '--home', h.home])).stderr).toMatch(/no account nobody@example.com/);
  });
});
