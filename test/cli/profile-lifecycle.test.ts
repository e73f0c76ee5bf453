/**
 * `estuary profile add|set --validity`, `profile clone`, `profile delete` and `account delete`
 * (dist/cli/main.js on a real home): short validities kept exactly, the default profile marked,
 * removal saying what happens before it is done (--yes), retirement for profiles that issued.
 */
import { cliActor } from '../../src/cli/cli-actor.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/cli/config.js';
import { openStore } from '../../src/store/open-store.js';
import { estuary } from '../helpers/cli.js';
import { makeHome, type TestHome } from '../helpers/home.js';
import { newCertificate, newEvent } from '../store/store-contract.js';

let h: TestHome;
const run = (...args: string[]) => estuary([...args, '--home', h.home]);
const json = async (...args: string[]) => {
  const r = await run(...args, '--json');
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
};
async function withHomeStore<T>(fn: (store: Awaited<ReturnType<typeof openStore>>) => Promise<T>): Promise<T> {
  const store = await openStore(loadConfig(h.home, {}).database);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

beforeAll(async () => {
  h = await makeHome();
});

describe('validity', () => {
  it('takes --validity in minutes, hours or days (or --validity-days), shows it as given, and refuses what it cannot read', async () => {
    expect(await json('profile', 'add', 'shift', '--validity', '90m')).toMatchObject({ label: 'shift', validity: '90m' });
    expect(await json('profile', 'set', 'shift', '--validity', '8h')).toMatchObject({ validity: '8h' });
    expect(await json('profile', 'set', 'shift', '--validity-days', '2')).toMatchObject({ validity: '2d' });
    expect(await withHomeStore(async (s) => (await s.getProfile('shift'))!.validitySeconds)).toBe(172_800);
    const bad = await run('profile', 'set', 'shift', '--validity', 'soon');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--validity: expected a duration such as 30d, 8h, 90m or 1d12h .*got "soon"/);
    const short = await run('profile', 'set', 'shift', '--validity', '30s');
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/--validity: .*from 1m to 3650d, got 30s/);
    const both = await run('profile', 'set', 'shift', '--validity', '8h', '--validity-days', '1');
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/give the validity once/);
  });

  it('lists profiles with their validity, the default marked', async () => {
    const r = await run('profile', 'list');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^LABEL\s+EST\s+AUTH\s+CA\s+VALIDITY\s+URL/m);
    expect(r.stdout).toMatch(/^default \(default\)\s+enabled\s+basic\s+default\s+365d\s/m);
    expect(r.stdout).toMatch(/^shift\s+enabled\s+basic\s+default\s+2d\s/m);
    const list = await json('profile', 'list');
    expect(list.map((p: { label: string; default: boolean }) => [p.label, p.default])).toEqual([['default', true], ['shift', false]]);
  });
});

describe('clone and delete', () => {
  it('clones a profile with its settings, disabled unless --enable, audited; refuses a taken label', async () => {
    expect(await json('profile', 'clone', 'shift', 'shift-b')).toMatchObject({ label: 'shift-b', enabled: false, validity: '2d' });
    expect(await json('profile', 'clone', 'shift', 'shift-c', '--enable')).toMatchObject({ enabled: true });
    const taken = await run('profile', 'clone', 'shift', 'shift-b');
    expect(taken.code).toBe(2);
    expect(taken.stderr).toMatch(/already exists/);
    expect((await run('profile', 'clone', 'nope', 'x')).stderr).toMatch(/no profile "nope"/);
  });

  it('deletes a profile that never issued only with --yes, after saying what happens', async () => {
    const ask = await run('profile', 'delete', 'shift-b');
    expect(ask.code).toBe(2);
    expect(ask.stderr).toMatch(/has issued no certificates: it is deleted/);
    expect(ask.stderr).toMatch(/Nothing changed: run again with --yes to delete profile "shift-b"/);
    expect((await run('profile', 'show', 'shift-b')).code).toBe(0);
    const done = await run('profile', 'delete', 'shift-b', '--yes');
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toMatch(/profile shift-b deleted/);
    expect((await run('profile', 'show', 'shift-b')).code).toBe(2);
  });

  it('retires a profile that issued: its certificate stays valid; the profile cannot be changed or removed again; the default is refused', async () => {
    const cert = newCertificate({ profile: 'shift-c', notBefore: new Date(), notAfter: new Date(Date.now() + 86_400_000) });
    await withHomeStore((s) => s.recordIssuance(cert, newEvent({ profile: 'shift-c', serial: cert.serial })));
    const ask = await run('profile', 'delete', 'shift-c');
    expect(ask.stderr).toMatch(/has issued 1 certificate \(1 still valid\), so it is retired, not deleted/);
    const done = await json('profile', 'delete', 'shift-c', '--yes');
    expect(done).toEqual({ label: 'shift-c', outcome: 'retired', certificates: 1, validCertificates: 1 });
    expect(await json('profile', 'show', 'shift-c')).toMatchObject({ enabled: false, retiredAt: expect.any(String) });
    expect((await run('profile', 'list')).stdout).toMatch(/^shift-c\s+retired\s/m);
    const set = await run('profile', 'set', 'shift-c', '--enable');
    expect(set.code).toBe(2);
    expect(set.stderr).toMatch(/is retired and cannot be changed; clone it/);
    expect((await run('profile', 'delete', 'shift-c', '--yes')).stderr).toMatch(/already retired/);
    expect(await withHomeStore(async (s) => (await s.getCertificate(cert.serial))?.status)).toBe('valid');
    expect((await run('profile', 'delete', 'default', '--yes')).stderr).toMatch(/is the default profile/);
    const events = await withHomeStore((s) => s.listAudit({ actor: cliActor() }));
    expect(events.map((e) => e.action)).toEqual(expect.arrayContaining(['profile.clone', 'profile.delete', 'profile.retire']));
  });
});

describe('account delete', () => {
  it('account add --allowed-profiles restricts a new EST account to profiles in service', async () => {
    const ok = await run('account', 'add', 'fleet@example.com', '--allowed-profiles', 'default,shift', '--allowed-names', 'sensor-*');
    expect(ok.code, ok.stderr).toBe(0);
    expect(await withHomeStore((s) => s.getAccount('fleet@example.com'))).toMatchObject({ allowedProfiles: ['default', 'shift'], allowedNames: ['sensor-*'] });
    const retired = await run('account', 'add', 'fleet2@example.com', '--allowed-profiles', 'shift-c');
    expect(retired.code).toBe(2);
    expect(retired.stderr).toMatch(/--allowed-profiles: no profile in service labelled "shift-c"/);
  });

  it('deletes an EST account with --yes, saying its certificates stay; refuses the last enabled admin', async () => {
    const email = h.summary.estAccount.email;
    const ask = await run('account', 'delete', email);
    expect(ask.code).toBe(2);
    expect(ask.stderr).toMatch(/certificates it obtained stay valid, listed and revocable/);
    const done = await run('account', 'delete', email.toUpperCase(), '--yes');
    expect(done.code, done.stderr).toBe(0);
    expect(await withHomeStore((s) => s.getAccount(email))).toBeUndefined();
    const last = await run('account', 'delete', h.summary.adminAccount.email, '--yes');
    expect(last.code).toBe(2);
    expect(last.stderr).toMatch(/is the last enabled admin account/);
    expect((await run('account', 'delete', 'nobody@example.com', '--yes')).stderr).toMatch(/no account nobody@example.com/);
    const events = await withHomeStore((s) => s.listAudit({ action: 'account.delete' }));
    expect(events).toEqual([expect.objectContaining({ actor: cliActor(), detail: `${email} (est)` })]);
  });
});
