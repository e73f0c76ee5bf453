/**
 * The audit trail and the logs of a real `estuary serve` process: an EST enrollment's audit event
 * names the client's address and the request id, which the answer's X-Request-Id header and every
 * log line of that request carry too (a sane incoming id is kept, another replaced); Web RA
 * approvals and revocations are logged with their request id as well as audited; the audit list
 * exports as CSV and JSON past one page of the store; the end of the shutdown drain is logged; and
 * the chain the server wrote verifies with `estuary audit verify`.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite-store.js';
import { AdminClient, signedIn } from '../admin/admin-client.js';
import { estuary } from '../helpers/cli.js';
import { csrBody, estRequest } from '../helpers/est-http.js';
import { makeHome, tempDir, type TestHome, type TestServer } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';
import { portBelowEphemeralRange, serveProcess, type ServeProcess } from '../helpers/serve-process.js';

let h: TestHome;
let server: ServeProcess;
let base: string;
let admin: AdminClient;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface LogLine {
  time: string;
  msg: string;
  reqId?: string;
  [k: string]: unknown;
}
const logLines = (): LogLine[] => server.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);
/** The first log line that matches, once the server wrote it (its log writes are gathered, so they lag the answers). */
async function logLine(match: (l: LogLine) => boolean): Promise<LogLine | undefined> {
  const until = Date.now() + 10_000;
  for (;;) {
    const found = logLines().find(match);
    if (found || Date.now() > until) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  h = await makeHome();
  const [est, adminPort] = [await portBelowEphemeralRange(), await portBelowEphemeralRange()];
  server = serveProcess({
    home: h.home, logFile: join(tempDir('estuary-audit-e2e-'), 'serve.log'),
    env: { ESTUARY_EST_LISTEN: `127.0.0.1:${est}`, ESTUARY_ADMIN_LISTEN: `127.0.0.1:${adminPort}`, ESTUARY_CRL_LISTEN: 'off', ESTUARY_OPS_LISTEN: 'off' },
  });
  await server.start();
  base = `https://127.0.0.1:${est}/.well-known/est`;
  const asServer = { ...h, adminBase: `https://127.0.0.1:${adminPort}` } as unknown as TestServer;
  admin = await signedIn(asServer, h.summary.adminAccount.email, h.summary.adminAccount.password);
});
afterAll(async () => {
  await server?.stop('kill');
});

const enroll = async (o: { label?: string; requestId?: string; password?: string; cn?: string } = {}) => {
  const csr = await makeCsr({ name: `CN=${o.cn ?? 'audit-e2e'}` });
  return estRequest(`${base}${o.label ? `/${o.label}` : ''}/simpleenroll`, {
    ca: h.rootPem, basic: { user: h.summary.estAccount.email, password: o.password ?? h.summary.estAccount.password },
    body: csrBody(csr.der), contentType: 'application/pkcs10', ...(o.requestId ? { headers: { 'x-request-id': o.requestId } } : {}),
  });
};

describe('request ids and client addresses', () => {
  it('an EST enrollment: audit event, answer header and log lines share the request id; the event names the client', async () => {
    const ok = await enroll({ requestId: 'corr-42.a' });
    expect(ok.status).toBe(200);
    expect(ok.headers['x-request-id']).toBe('corr-42.a');
    const refused = await enroll({ requestId: 'not sane: spaces', password: 'wrong-password' });
    expect(refused.status).toBe(401);
    const made = String(refused.headers['x-request-id']);
    expect(made).toMatch(UUID);

    const events = (await admin.get('/api/audit?action=simpleenroll')).json.items as Array<{ outcome: string; clientIp: string; requestId: string }>;
    expect(events.find((e) => e.outcome === 'success')).toMatchObject({ clientIp: '127.0.0.1', requestId: 'corr-42.a' });
    expect(events.find((e) => e.outcome === 'unauthenticated')).toMatchObject({ clientIp: '127.0.0.1', requestId: made });

    expect(await logLine((l) => l.reqId === 'corr-42.a')).toMatchObject({ msg: 'certificate issued', actor: h.summary.estAccount.email });
    expect(await logLine((l) => l.reqId === made)).toMatchObject({ msg: 'enrollment refused' });
    // one time format: ISO 8601
    for (const l of logLines()) expect(l.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('Web RA approvals and revocations: in the log with their request id as well as in the audit table', async () => {
    expect((await admin.post('/api/profiles', { label: 'held', approval: 'manual' })).status).toBe(201);
    expect((await enroll({ label: 'held', cn: 'held-1' })).status).toBe(202);
    const pending = (await admin.get('/api/requests?profile=held')).json.items[0] as { id: number };
    const approved = await admin.post(`/api/requests/${pending.id}/approve`, {}, { headers: { 'x-request-id': 'approve-1' } });
    expect(approved.status, approved.text).toBe(200);
    expect(approved.headers['x-request-id']).toBe('approve-1');
    const issued = (await admin.get('/api/certificates?profile=default')).json.items[0] as { serial: string };
    const revoked = await admin.post(`/api/certificates/${issued.serial}/revoke`, { reason: 'keyCompromise' }, { headers: { 'x-request-id': 'revoke-1' } });
    expect(revoked.status, revoked.text).toBe(200);

    expect(await logLine((l) => l.reqId === 'approve-1')).toMatchObject({ msg: 'request approved in the Web RA', officer: h.summary.adminAccount.email, request: pending.id });
    expect(await logLine((l) => l.reqId === 'revoke-1')).toMatchObject({ msg: 'certificate revoked in the Web RA', serial: issued.serial, reason: 'keyCompromise' });
    const audit = (await admin.get('/api/audit?limit=10')).json.items as Array<{ action: string; requestId: string; clientIp: string }>;
    expect(audit.find((e) => e.action === 'request.approve')).toMatchObject({ requestId: 'approve-1', clientIp: '127.0.0.1' });
    expect(audit.find((e) => e.action === 'cert.revoke')).toMatchObject({ requestId: 'revoke-1', clientIp: '127.0.0.1' });
  });
});

describe('audit export', () => {
  it('exports every matching event as CSV and JSON, newest first, beyond one store page', async () => {
    // another process's writes (as the CLI would): 1,100 events, more than one export page of 1,000
    const store = await openSqliteStore(join(h.home, 'estuary.db'));
    try {
      const t0 = Date.parse('2026-01-01T00:00:00Z');
      await Promise.all(Array.from({ length: 1100 }, (_, i) => store.appendAudit({
        actor: i === 0 ? '=HYPERLINK("http://evil")' : 'bulk@example.com', action: 'bulk.export', profile: null, outcome: 'success', serial: null,
        detail: i === 1 ? 'comma, "quote"\nnewline' : `n${i}`, at: new Date(t0 + Math.floor(i / 2) * 1000),
      })));
    } finally {
      await store.close();
    }
    const csv = await admin.get('/api/audit/export.csv?action=bulk.export');
    expect(csv.status).toBe(200);
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(csv.headers['content-disposition']).toMatch(/^attachment; filename="audit-\d{8}T\d{6}Z\.csv"$/);
    expect(csv.text.startsWith('id,at,actor,action,profile,outcome,serial,detail,clientIp,requestId\r\n')).toBe(true);
    const records = csv.text.split(/\r\n(?=\d+,)/);
    expect(records).toHaveLength(1101);
    expect(csv.text).toContain(`,"'=HYPERLINK(""http://evil"")",bulk.export,`);
    expect(csv.text).toContain(',"comma, ""quote""\nnewline",');
    expect(records[1]).toMatch(/^\d+,2026-01-01T00:09:09\.000Z,bulk@example\.com,bulk\.export,,success,,n1099,,\r?\n?$/);

    const json = await admin.get('/api/audit/export.json?action=bulk.export&from=2026-01-01T00:00:01Z');
    expect(json.status).toBe(200);
    expect(json.headers['content-disposition']).toMatch(/\.json"$/);
    const items = json.json as Array<{ id: number; at: string; detail: string }>;
    expect(items).toHaveLength(1098);
    expect(new Set(items.map((e) => e.id)).size).toBe(1098);
    for (let i = 1; i < items.length; i++) expect(items[i - 1]!.at >= items[i]!.at).toBe(true);
    expect(items.at(-1)).toMatchObject({ at: '2026-01-01T00:00:01.000Z' });

    const bad = await admin.get('/api/audit/export.csv?from=yesterday');
    expect(bad.status).toBe(400);
    expect((await new AdminClient(admin.server).get('/api/audit/export.json')).status).toBe(401);
  });
});

describe('shutdown and verification', () => {
  it('logs the end of the drain, and the chain the server wrote verifies', async () => {
    await server.stop('term');
    expect(await logLine((l) => l.msg.startsWith('drained:'))).toMatchObject({ signal: 'SIGTERM', drainedMs: expect.any(Number) });
    const verify = await estuary(['audit', 'verify', '--home', h.home]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/^audit chain OK: \d{4} event\(s\) verified\n/);
  });
});
