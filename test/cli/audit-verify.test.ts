/**
 * `estuary audit verify` as operators run it: on the SQLite database of a home and on PostgreSQL
 * (ESTUARY_DATABASE_URL), exit 0 with the chain's head when it holds, exit 3 naming the first
 * broken link's event id when an event was changed, 2 for a malformed --anchor. The CLI's audit
 * events name the operating-system user (SUDO_USER when run through sudo).
 */
import { userInfo } from 'node:os';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { estuary } from '../helpers/cli.js';
import { tempDir } from '../helpers/home.js';
import { createTestDatabase, withConnection, type TestDatabase } from '../helpers/postgres.js';

let home: string;
let email: string;
let pg: TestDatabase;
const me = userInfo().username;

beforeAll(async () => {
  home = join(tempDir('estuary-audit-'), 'home');
  const r = await estuary(['init', '--home', home, '--json']);
  expect(r.code, r.stderr).toBe(0);
  email = (JSON.parse(r.stdout) as { estAccount: { email: string } }).estAccount.email;
  pg = await createTestDatabase();
});
afterAll(async () => pg?.drop());

describe('estuary audit verify', () => {
  it('on SQLite: OK with the head, OK with that head as anchor, exit 3 naming the changed event', async () => {
    const unlock = await estuary(['account', 'unlock', email, '--home', home], { env: { SUDO_USER: 'alice' } });
    expect(unlock.code, unlock.stderr).toBe(0);
    const ok = await estuary(['audit', 'verify', '--home', home]);
    expect(ok.code, ok.stderr).toBe(0);
    const [summary, headLine] = ok.stdout.trim().split('\n');
    expect(summary).toMatch(/^audit chain OK: \d+ event\(s\) verified$/);
    const head = /^head: (\d+:[0-9a-f]{64})$/.exec(headLine!)?.[1];
    expect(head).toBeDefined();
    expect((await estuary(['audit', 'verify', '--anchor', head!, '--home', home])).code).toBe(0);

    const db = new Database(join(home, 'estuary.db'));
    let id: number;
    try {
      const row = db.prepare("SELECT id, actor FROM audit_events WHERE action = 'account.unlock'").get() as { id: number; actor: string };
      expect(row.actor).toBe(me === 'alice' ? 'cli:alice' : `cli:alice (as ${me})`);
      id = row.id;
      db.prepare("UPDATE audit_events SET detail = 'someone-else@example.com' WHERE id = ?").run(id);
    } finally {
      db.close();
    }
    const broken = await estuary(['audit', 'verify', '--home', home]);
    expect(broken.code).toBe(3);
    expect(broken.stdout).toMatch(new RegExp(`^audit chain BROKEN at event id ${id} \\(seq \\d+\\): its content hashes to [0-9a-f]{64}, not to its stored hash [0-9a-f]{64}: the event was changed\\n`));
    const json = await estuary(['audit', 'verify', '--json', '--home', home]);
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout)).toMatchObject({ broken: { id, reason: expect.stringMatching(/the event was changed/) } });
  });

  it('refuses a malformed anchor with exit 2', async () => {
    const bad = await estuary(['audit', 'verify', '--anchor', '12:nothex', '--home', home]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--anchor: expected <seq>:<sha-256 hex>/);
  });

  it('on PostgreSQL: OK, then exit 3 naming the event after a deleted one', async () => {
    const env = { ESTUARY_DATABASE_URL: pg.url };
    const pw = join(home, 'pw.txt');
    writeFileSync(pw, 'correct horse battery staple 42\n');
    for (let i = 0; i < 3; i++) {
      const add = await estuary(['account', 'add', `device-${i}@example.com`, '--password-file', pw, '--home', home], { env });
      expect(add.code, add.stderr).toBe(0);
    }
    const ok = await estuary(['audit', 'verify', '--home', home], { env });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^audit chain OK: 3 event\(s\) verified\nhead: 3:[0-9a-f]{64}\n$/);
    const ids = await withConnection(pg.url, async (c) => {
      const { rows } = await c.query<{ id: string; actor: string }>('SELECT id, actor FROM audit_events ORDER BY seq');
      expect(rows.every((r) => r.actor === `cli:${me}`)).toBe(true);
      await c.query('DELETE FROM audit_events WHERE id = $1', [rows[1]!.id]);
      return rows.map((r) => Number(r.id));
    });
    const broken = await estuary(['audit', 'verify', '--home', home], { env });
    expect(broken.code).toBe(3);
    expect(broken.stdout).toBe(`audit chain BROKEN at event id ${ids[2]} (seq 3): the chain jumps from seq 1 to 3: 1 event(s) before it were deleted\n1 event(s) before it verified\n`);
  });
});
