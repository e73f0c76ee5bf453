/**
 * `estuary db backup`: a consistent copy of the live SQLite database while the server is enrolling
 * (every certificate in the copy has its audit event and the other way round), mode 0600, checked,
 * and never over an existing file.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { estuary } from '../helpers/cli.js';
import { csrBody, estRequest } from '../helpers/est-http.js';
import { startServer, tempDir, type TestServer } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';

let s: TestServer;
beforeAll(async () => {
  s = await startServer();
}, 120_000);
afterAll(async () => {
  await s?.runtime.close();
});

const enroll = async (i: number): Promise<number> => {
  const csr = await makeCsr({ name: `CN=backup-${i}` });
  const res = await estRequest(s.base + '/simpleenroll', {
    ca: s.rootPem, basic: { user: s.summary.estAccount.email, password: s.summary.estAccount.password }, body: csrBody(csr.der), contentType: 'application/pkcs10',
  });
  return res.status;
};

describe('estuary db backup', () => {
  it('copies the live database consistently while enrollments commit, 0600, integrity-checked', async () => {
    for (let i = 0; i < 5; i++) expect(await enroll(i)).toBe(200);
    // Enrollments keep committing while the backup runs.
    let stop = false;
    let n = 100;
    const load = (async () => {
      const statuses: number[] = [];
      while (!stop) statuses.push(...(await Promise.all([enroll(n++), enroll(n++), enroll(n++), enroll(n++)])));
      return statuses;
    })();
    const file = join(tempDir(), 'copy.db');
    const run = await estuary(['db', 'backup', file, '--home', s.home, '--json']);
    stop = true;
    expect((await load).every((status) => status === 200)).toBe(true);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as { file: string; rows: Record<string, number> };
    expect(summary.file).toBe(file);
    expect(summary.rows.certificates).toBeGreaterThanOrEqual(5);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const copy = new Database(file, { readonly: true });
    try {
      expect(copy.pragma('integrity_check', { simple: true })).toBe('ok');
      const certs = (copy.prepare('SELECT COUNT(*) AS n FROM certificates').get() as { n: number }).n;
      expect(certs).toBe(summary.rows.certificates);
      // One point in time: every certificate's issuance event is there, and no event without its certificate.
      const orphanCerts = copy.prepare(`SELECT COUNT(*) AS n FROM certificates c WHERE NOT EXISTS
        (SELECT 1 FROM audit_events a WHERE a.serial = c.serial AND a.action = 'simpleenroll')`).get() as { n: number };
      const orphanEvents = copy.prepare(`SELECT COUNT(*) AS n FROM audit_events a WHERE a.action = 'simpleenroll' AND a.outcome = 'success'
        AND NOT EXISTS (SELECT 1 FROM certificates c WHERE c.serial = a.serial)`).get() as { n: number };
      expect(orphanCerts.n).toBe(0);
      expect(orphanEvents.n).toBe(0);
      expect((copy.prepare('SELECT COUNT(*) AS n FROM accounts').get() as { n: number }).n).toBe(summary.rows.accounts);
    } finally {
      copy.close();
    }
  }, 120_000);

  it('refuses to overwrite an existing file, and names a missing database', async () => {
    const file = join(tempDir(), 'copy.db');
    expect((await estuary(['db', 'backup', file, '--home', s.home])).code).toBe(0);
    const again = await estuary(['db', 'backup', file, '--home', s.home]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('exists; give a new file name');
    const none = await estuary(['db', 'backup', join(tempDir(), 'x.db'), '--home', join(tempDir(), 'no-home')]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('run "estuary init" first');
  }, 120_000);
});
