/**
 * Requests in detail over real TLS: curl + openssl hold requests on manual profiles (HTTP Basic,
 * and a TLS client certificate on simplereenroll); the Web RA API shows the decoded CSR (never the
 * challengePassword's value), where the request came from, and warnings when the same subject or
 * key is pending or valid. Four-eyes approval across two officer accounts (set with
 * `estuary profile set --approvals 2`), and self-approval refused.
 */
import { execFile, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { estuary } from '../helpers/cli.js';
import { startServer, tempDir, type TestServer } from '../helpers/home.js';
import { addAccount, signedIn, type AdminClient } from './admin-client.js';

let s: TestServer;
let dir: string;
let admin: AdminClient;
let alice: AdminClient;
let bob: AdminClient;

/** Async on purpose: the server runs in this process. */
async function sh(script: string, env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', script], { cwd: dir, env: { ...process.env, ...env }, encoding: 'utf8' });
  return stdout;
}

/** A CSR from openssl (`name`: key and CSR file prefix; a key file that exists is reused). */
async function csr(name: string, subject: string, extra = '', attrs = ''): Promise<void> {
  writeFileSync(join(dir, `${name}.cnf`), `[req]\ndistinguished_name = dn\nprompt = no\n${attrs ? 'attributes = attrs\n' : ''}[dn]\n${subject}\n${attrs ? `[attrs]\n${attrs}\n` : ''}`);
  await sh(`[ -f ${name}.key ] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ${name}.key 2>/dev/null
    openssl req -new -key ${name}.key -config ${name}.cnf ${extra} -outform DER | openssl base64 > ${name}.b64`);
}

/** curl simpleenroll with the home's EST account: the HTTP status, and the certificate saved as `<name>.pem` on 200. */
async function enroll(label: string, name: string): Promise<string> {
  return (await sh(`curl -sS --cacert trust.pem -u "$EST_USER:$EST_PASSWORD" -H "Content-Type: application/pkcs10" --data-binary @${name}.b64 \\
      -o ${name}.out -w '%{http_code}' "$BASE/${label}/simpleenroll"
    if [ -s ${name}.out ] && openssl base64 -d -in ${name}.out | openssl pkcs7 -inform DER -print_certs -out ${name}.pem 2>/dev/null; then :; fi`,
  { BASE: s.base, EST_USER: s.summary.estAccount.email, EST_PASSWORD: s.summary.estAccount.password })).trim();
}

async function heldId(subject: string, label: string): Promise<number> {
  const list = await admin.get(`/api/requests?profile=${label}`);
  const found = (list.json.items as Array<{ id: number; subject: string }>).find((r) => r.subject === subject);
  if (!found) throw new Error(`no pending request for ${subject} on ${label}: ${list.text}`);
  return found.id;
}

beforeAll(async () => {
  for (const tool of ['curl', 'openssl']) execFileSync(tool, [tool === 'openssl' ? 'version' : '--version'], { stdio: 'ignore' });
  s = await startServer();
  dir = tempDir('estuary-request-detail-');
  writeFileSync(join(dir, 'trust.pem'), s.rootPem);
  admin = await signedIn(s, s.summary.adminAccount.email, s.summary.adminAccount.password);
  alice = await signedIn(s, 'alice@example.com', await addAccount(admin, 'alice@example.com', 'officer'));
  bob = await signedIn(s, 'bob@example.com', await addAccount(admin, 'bob@example.com', 'officer'));
  for (const label of ['held', 'four']) {
    const res = await admin.post('/api/profiles', { label, approval: 'manual', retryAfterSeconds: 5, popLinking: 'off' });
    expect(res.status, res.text).toBe(201);
  }
}, 120_000);
afterAll(async () => {
  await s?.runtime.close();
});

describe('request detail', () => {
  it('decodes the CSR, says where it came from, and never shows the challengePassword', async () => {
    await csr('pump', 'CN = pump-1.plant.example\nO = Plant', '-addext "subjectAltName=DNS:pump-1.plant.example,IP:10.1.2.3" -addext "keyUsage=critical,digitalSignature" -addext "extendedKeyUsage=clientAuth"', 'challengePassword = never-shown-7731');
    expect(await enroll('held', 'pump')).toBe('202');
    const id = await heldId('CN=pump-1.plant.example, O=Plant', 'held');
    const res = await alice.get(`/api/requests/${id}`);
    expect(res.status, res.text).toBe(200);
    expect(res.text).not.toContain('never-shown-7731');
    expect(res.json).toMatchObject({
      id, profile: 'held', operation: 'simpleenroll', status: 'pending', requester: s.summary.estAccount.email, account: s.summary.estAccount.email,
      clientAddress: '127.0.0.1', authMethod: 'basic', clientCertificate: null, approvalsRequired: 1, firstApproval: null, warnings: [],
      csr: {
        subject: 'CN=pump-1.plant.example, O=Plant', sans: ['DNS:pump-1.plant.example', 'IP:10.1.2.3'],
        key: { algorithm: 'ec', bits: 256, curve: 'P-256', description: 'EC P-256' }, signatureAlgorithm: 'ecdsaWithSHA256', challengePassword: true, error: null,
      },
    });
    expect(res.json.csr.extensions).toEqual(expect.arrayContaining([
      { oid: '2.5.29.17', name: 'subjectAltName', values: ['DNS:pump-1.plant.example', 'IP:10.1.2.3'] },
      { oid: '2.5.29.15', name: 'keyUsage', values: ['digitalSignature'] },
      { oid: '2.5.29.37', name: 'extKeyUsage', values: ['clientAuth'] },
    ]));
    expect(res.json.csr.attributes).toEqual(expect.arrayContaining(['challengePassword', 'extensionRequest']));
    expect(Date.parse(res.json.expiresAt) - Date.parse(res.json.createdAt)).toBe(72 * 3_600_000);
    expect(res.json.ageSeconds).toBeGreaterThanOrEqual(0);
    expect((await alice.get('/api/requests/424242')).status).toBe(404);
  });

  it('warns when the same subject is pending, then when it has a valid certificate, and when the same key does', async () => {
    await csr('valve-a', 'CN = valve-9');
    await csr('valve-b', 'CN = valve-9');
    expect(await enroll('held', 'valve-a')).toBe('202');
    expect(await enroll('held', 'valve-b')).toBe('202');
    const items = (await alice.get('/api/requests?profile=held')).json.items as Array<{ id: number; subject: string; warnings: Array<{ kind: string; requestId?: number; message: string }> }>;
    const [b, a] = items.filter((r) => r.subject === 'CN=valve-9');
    expect(a!.warnings).toEqual([{ kind: 'pending-subject', requestId: b!.id, message: `request ${b!.id} for the same subject (CN=valve-9) is pending` }]);
    expect(b!.warnings.map((w) => [w.kind, w.requestId])).toEqual([['pending-subject', a!.id]]);

    expect((await alice.post(`/api/requests/${a!.id}/approve`, {})).status).toBe(200);
    expect(await enroll('held', 'valve-a')).toBe('200');
    const serial = (await sh('openssl x509 -in valve-a.pem -noout -serial')).trim().split('=')[1]!.toLowerCase().replace(/^0+/, '');
    const detail = (await alice.get(`/api/requests/${b!.id}`)).json;
    expect(detail.warnings).toEqual([{ kind: 'valid-subject', serial, message: expect.stringMatching(new RegExp(`^certificate ${serial} for the same subject is valid until \\d{4}-\\d\\d-\\d\\d$`)) }]);

    // the same key again, under another name: its certificate is valid
    await csr('valve-a', 'CN = valve-9-renamed');
    expect(await enroll('held', 'valve-a')).toBe('202');
    const again = (await alice.get(`/api/requests/${await heldId('CN=valve-9-renamed', 'held')}`)).json;
    expect(again.warnings.map((w: { kind: string; serial?: string }) => [w.kind, w.serial])).toEqual([['valid-key', serial]]);
  });

  it('records the TLS client certificate of a simplereenroll held for approval', async () => {
    await csr('meter', 'CN = meter-4');
    expect(await enroll('held', 'meter')).toBe('202');
    expect((await bob.post(`/api/requests/${await heldId('CN=meter-4', 'held')}/approve`, {})).status).toBe(200);
    expect(await enroll('held', 'meter')).toBe('200');
    const status = await sh(`curl -sS --cacert trust.pem --cert meter.pem --key meter.key -H "Content-Type: application/pkcs10" --data-binary @meter.b64 \\
      -o /dev/null -w '%{http_code}' "$BASE/held/simplereenroll"`, { BASE: s.base });
    expect(status).toBe('202');
    const list = (await alice.get('/api/requests?profile=held')).json.items as Array<{ id: number; operation: string }>;
    const held = (await alice.get(`/api/requests/${list.find((r) => r.operation === 'simplereenroll')!.id}`)).json;
    const fingerprint = (await sh('openssl x509 -in meter.pem -noout -fingerprint -sha256')).trim().split('=')[1];
    const serial = (await sh('openssl x509 -in meter.pem -noout -serial')).trim().split('=')[1]!.toLowerCase().replace(/^0+/, '');
    const issuer = (await sh('openssl x509 -in meter.pem -noout -issuer -nameopt RFC2253')).trim().replace(/^issuer=/, '');
    expect(held).toMatchObject({
      operation: 'simplereenroll', authMethod: 'tls-client-cert', clientAddress: '127.0.0.1',
      clientCertificate: { subject: 'CN=meter-4', serial, fingerprintSha256: fingerprint },
    });
    expect(held.clientCertificate.issuer).toBe(issuer.split(',').reverse().join(', '));
    expect(held.warnings.map((w: { kind: string }) => w.kind).sort()).toEqual(['valid-key', 'valid-subject']);
  });
});

describe('four-eyes approval', () => {
  it('is set with `estuary profile set --approvals 2`, shown by the API, and refused outside 1|2', async () => {
    const home = ['--home', s.home];
    const set = await estuary(['profile', 'set', 'four', '--approvals', '2', ...home]);
    expect(set.code, set.stderr).toBe(0);
    expect((await admin.get('/api/profiles/four')).json.approvals).toBe(2);
    const bad = await estuary(['profile', 'set', 'four', '--approvals', '3', ...home]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--approvals: expected 1 or 2/);
    const api = await admin.put('/api/profiles/four', { approvals: 3 });
    expect(api.status).toBe(400);
    expect(api.json.errors[0].field).toBe('approvals');
  }, 60_000);

  it('needs two different officers: the first approval is recorded, the request stays pending until the second', async () => {
    await csr('gate', 'CN = gate-2');
    expect(await enroll('four', 'gate')).toBe('202');
    const id = await heldId('CN=gate-2', 'four');
    const first = await alice.post(`/api/requests/${id}/approve`, { reason: 'on the plan' });
    expect(first.status, first.text).toBe(200);
    expect(first.json).toMatchObject({ status: 'pending', approvalsRequired: 2, firstApproval: { by: 'alice@example.com' }, decidedBy: null });
    expect(await enroll('four', 'gate')).toBe('202');
    const twice = await alice.post(`/api/requests/${id}/approve`, {});
    expect(twice.status).toBe(403);
    expect(twice.json.detail).toBe(`request ${id} needs a second approval by another officer than alice@example.com (four-eyes)`);
    expect((await bob.get(`/api/requests/${id}`)).json).toMatchObject({ status: 'pending', firstApproval: { by: 'alice@example.com' } });
    const second = await bob.post(`/api/requests/${id}/approve`, {});
    expect(second.json).toMatchObject({ status: 'approved', decidedBy: 'bob@example.com', firstApproval: { by: 'alice@example.com' } });
    expect(await enroll('four', 'gate')).toBe('200');
    // the certificate names both officers as its approvers
    const issuedSerial = (await admin.get(`/api/requests/${id}`)).json.serial as string;
    expect((await admin.get(`/api/certificates/${issuedSerial}`)).json.approval).toMatchObject({ requestId: id, approvedBy: ['alice@example.com', 'bob@example.com'] });
    const audit = (await admin.get('/api/audit?action=request.approve&profile=four')).json.items as Array<{ actor: string; outcome: string; detail: string }>;
    expect(audit.map((e) => [e.actor, e.outcome, e.detail])).toEqual([
      ['bob@example.com', 'success', `request ${id} (CN=gate-2): second approval, after alice@example.com`],
      ['alice@example.com', 'first-approval', `request ${id} (CN=gate-2): first of two approvals: on the plan`],
    ]);
  });

  it('one rejection is final, also after a first approval', async () => {
    await csr('door', 'CN = door-5');
    expect(await enroll('four', 'door')).toBe('202');
    const id = await heldId('CN=door-5', 'four');
    expect((await bob.post(`/api/requests/${id}/approve`, {})).json.status).toBe('pending');
    expect((await alice.post(`/api/requests/${id}/reject`, { reason: 'not on the plan' })).json).toMatchObject({ status: 'rejected', decidedBy: 'alice@example.com' });
    expect((await admin.post(`/api/requests/${id}/approve`, {})).status).toBe(409);
    expect(await enroll('four', 'door')).toBe('403');
    expect(await sh('cat door.out')).toMatch(/rejected: not on the plan/);
  });
});

describe('four-eyes approval from the CLI', () => {
  it('`estuary request approve` records the first approval, refuses the same officer again, and approves with another', async () => {
    expect((await admin.put('/api/profiles/four', { approvals: 2 })).status).toBe(200);
    await csr('hatch', 'CN = hatch-8');
    expect(await enroll('four', 'hatch')).toBe('202');
    const id = String(await heldId('CN=hatch-8', 'four'));
    const home = ['--home', s.home];
    const first = await estuary(['request', 'approve', id, '--officer', 'carol@example.com', ...home]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(`request ${id}: first approval recorded by carol@example.com; it stays pending until another officer approves it (four-eyes)`);
    const shown = JSON.parse((await estuary(['request', 'show', id, '--json', ...home])).stdout);
    expect(shown).toMatchObject({ status: 'pending', firstApproval: { by: 'carol@example.com' }, authMethod: 'basic', clientAddress: '127.0.0.1', warnings: [] });
    const again = await estuary(['request', 'approve', id, '--officer', 'carol@example.com', ...home]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(`request ${id} needs a second approval by another officer than carol@example.com (four-eyes)`);
    expect(await enroll('four', 'hatch')).toBe('202');
    expect((await estuary(['request', 'approve', id, '--officer', 'dave@example.com', ...home])).stdout).toMatch(`request ${id} approved`);
    expect(await enroll('four', 'hatch')).toBe('200');
  }, 60_000);
});

describe('self-approval', () => {
  it('nobody approves a request for a certificate naming them, with or without four-eyes; another officer can', async () => {
    await csr('own', 'CN = alice@example.com', '-addext "subjectAltName=email:alice@example.com"');
    expect(await enroll('held', 'own')).toBe('202');
    const id = await heldId('CN=alice@example.com', 'held');
    const refused = await alice.post(`/api/requests/${id}/approve`, {});
    expect(refused.status).toBe(403);
    expect(refused.json.detail).toBe(`nobody approves their own request: request ${id} asks for a certificate naming alice@example.com`);
    expect((await alice.get(`/api/requests/${id}`)).json).toMatchObject({ status: 'pending', firstApproval: null });
    expect((await bob.post(`/api/requests/${id}/approve`, {})).json.status).toBe('approved');

    await csr('own2', 'CN = bob-laptop', '-addext "subjectAltName=email:BOB@example.com"');
    expect(await enroll('four', 'own2')).toBe('202');
    const id2 = await heldId('CN=bob-laptop', 'four');
    expect((await bob.post(`/api/requests/${id2}/approve`, {})).status).toBe(403);
    expect((await alice.post(`/api/requests/${id2}/approve`, {})).json).toMatchObject({ status: 'pending', firstApproval: { by: 'alice@example.com' } });
    expect((await bob.post(`/api/requests/${id2}/approve`, {})).status).toBe(403);
    expect((await admin.post(`/api/requests/${id2}/approve`, {})).json.status).toBe('approved');
  });
});
