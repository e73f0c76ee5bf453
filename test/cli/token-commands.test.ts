/**
 * `estuary token create|list|revoke` (the built CLI in a child process) on the home of a running
 * server: a token created on the host works on the Web RA API at once, and one revoked on the
 * host is refused at its next use.
 */
import { cliActor } from '../../src/cli/cli-actor.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../admin/admin-client.js';
import { estuary } from '../helpers/cli.js';
import { startServer, type TestServer } from '../helpers/home.js';

let s: TestServer;

beforeAll(async () => {
  s = await startServer();
});
afterAll(async () => {
  await s?.runtime.close();
});

const withToken = (secret: string, path: string) => new AdminClient(s).get(path, { headers: { authorization: `Bearer ${secret}` } });

describe('estuary token', () => {
  it('creates a token whose secret is printed once and works on the API of the running server', async () => {
    const r = await estuary(['token', 'create', 'bootstrap', '--role', 'admin', '--expires-in-days', '7', '--home', s.home]);
    expect(r.code, r.stderr).toBe(0);
    const secret = /^secret: (est_[A-Za-z0-9_-]{43})$/m.exec(r.stdout)?.[1];
    expect(secret, r.stdout).toBeDefined();
    expect(r.stdout).toMatch(/API token bootstrap \(admin, id \d+\) created; it expires /);
    const res = await withToken(secret!, '/api/tokens');
    expect(res.status, res.text).toBe(200);
    expect(res.json.items[0]).toMatchObject({ name: 'bootstrap', role: 'admin', createdBy: cliActor(), status: 'active' });
    const days = (Date.parse(res.json.items[0].expiresAt) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThanOrEqual(7);
    expect((await s.runtime.store.listAudit({ action: 'token.create' }))[0]).toMatchObject({ actor: cliActor() });

    const list = await estuary(['token', 'list', '--home', s.home]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^ID\s+NAME\s+ROLE\s+STATUS\s+HINT/m);
    expect(list.stdout).toMatch(new RegExp(`bootstrap\\s+admin\\s+active\\s+${secret!.slice(0, 8)}…\\s+cli`));
    expect(list.stdout).not.toContain(secret!.slice(8));
    const json = JSON.parse((await estuary(['token', 'list', '--json', '--home', s.home])).stdout);
    expect(json[0]).toMatchObject({ name: 'bootstrap', role: 'admin', status: 'active' });
    expect(json[0].lastUsedAt).not.toBeNull();
    expect(json[0]).not.toHaveProperty('secretHash');

    const revoke = await estuary(['token', 'revoke', 'bootstrap', '--home', s.home]);
    expect(revoke.code, revoke.stderr).toBe(0);
    expect(revoke.stdout).toMatch(/API token bootstrap \(id \d+\) revoked/);
    const refused = await withToken(secret!, '/api/tokens');
    expect(refused.status).toBe(401);
    expect(refused.json.detail).toMatch(/the API token bootstrap was revoked at /);
    expect(String(refused.headers['www-authenticate'])).toMatch(/^Bearer /);
  });

  it('refuses bad input and unknown tokens in one line', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['token', 'create', 'x', '--role', 'est'], /--role: expected one of admin, officer, auditor, got "est"/],
      [['token', 'create', 'bad name', '--role', 'auditor'], /token name "bad name": letters, digits/],
      [['token', 'create', 'x', '--role', 'auditor', '--expires-in-days', '400'], /--expires-in-days: a whole number of days from 1 to 365, got "400"/],
      [['token', 'revoke', 'nobody'], /no API token named nobody that is not revoked/],
    ];
    for (const [args, message] of cases) {
      const r = await estuary([...args, '--home', s.home]);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
    const twice = await estuary(['token', 'create', 'twice', '--role', 'auditor', '--home', s.home]);
    expect(twice.code).toBe(0);
    const again = await estuary(['token', 'create', 'twice', '--role', 'auditor', '--home', s.home]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/an API token named twice already exists/);
    // a leaked secret names the token to revoke, whatever its name
    const leaked = /^secret: (est_\S+)$/m.exec(twice.stdout)![1]!;
    const byLeak = await estuary(['token', 'revoke', leaked, '--home', s.home]);
    expect(byLeak.code, byLeak.stderr).toBe(0);
    expect(byLeak.stdout).toMatch(/API token twice \(id \d+\) revoked/);
  });
});
