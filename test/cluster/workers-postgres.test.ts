/**
 * `estuary serve --workers 2` on PostgreSQL: a bounded concurrent enrollment load through both
 * workers loses no certificate and issues none twice; every 200 is in the database.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateFields } from '../../src/pki/certificate.js';
import { estuary } from '../helpers/cli.js';
import { certsFrom, csrBody, estRequest } from '../helpers/est-http.js';
import { tempDir } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';
import { createTestDatabase, withConnection, type TestDatabase } from '../helpers/postgres.js';
import { portBelowEphemeralRange, serveProcess, type ServeProcess } from '../helpers/serve-process.js';

const ENROLLMENTS = 120;
const CLIENTS = 12;

let db: TestDatabase;
let server: ServeProcess;
let port: number;
let rootPem: string;
let basic: { user: string; password: string };

beforeAll(async () => {
  db = await createTestDatabase();
  const dir = tempDir('estuary-workers-pg-');
  const home = join(dir, 'home');
  const init = await estuary(['init', '--home', home, '--database-url', db.url, '--json']);
  expect(init.code, init.stderr).toBe(0);
  const summary = JSON.parse(init.stdout) as { estAccount: { email: string; password: string } };
  basic = { user: summary.estAccount.email, password: summary.estAccount.password };
  rootPem = readFileSync(join(home, 'ca', 'root.pem'), 'utf8');
  port = await portBelowEphemeralRange();
  server = serveProcess({
    home, logFile: join(dir, 'serve.log'), args: ['--workers', '2'], ready: /\d+ workers \(pids [\d, ]+\)/,
    env: { ESTUARY_EST_LISTEN: `127.0.0.1:${port}`, ESTUARY_CRL_LISTEN: 'off', ESTUARY_ADMIN_LISTEN: 'off', ESTUARY_OPS_LISTEN: 'off' },
  });
  await server.start();
}, 180_000);

afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

describe('estuary serve --workers 2 on PostgreSQL', () => {
  it('serves a bounded concurrent load from both workers with no lost or duplicate certificate', async () => {
    const csrs = await Promise.all(Array.from({ length: 16 }, (_, i) => makeCsr({ name: `CN=pg-worker-${i}` })));
    const serials: string[] = [];
    const statuses: number[] = [];
    let next = 0;
    await Promise.all(Array.from({ length: CLIENTS }, async () => {
      while (next < ENROLLMENTS) {
        const csr = csrs[next++ % csrs.length]!;
        const r = await estRequest(`https://127.0.0.1:${port}/.well-known/est/simpleenroll`, { ca: rootPem, basic, body: csrBody(csr.der), contentType: 'application/pkcs10' });
        statuses.push(r.status);
        if (r.status === 200) serials.push(certificateFields(certsFrom(r)[0]!).serialHex);
      }
    }));
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(new Set(serials).size).toBe(ENROLLMENTS);
    const rows = await withConnection(db.url, async (c) => (await c.query<{ serial: string }>('SELECT serial FROM certificates')).rows.map((r) => r.serial));
    expect(rows.length, 'the database holds exactly the certificates answered').toBe(ENROLLMENTS);
    expect(new Set(rows)).toEqual(new Set(serials));
    // both workers issued (each logs its own pid on "certificate issued")
    const pids = new Set(server.output().split('\n').filter((l) => l.includes('"msg":"certificate issued"')).map((l) => (JSON.parse(l) as { pid: number }).pid));
    expect(pids.size).toBe(2);
  }, 180_000);
});
