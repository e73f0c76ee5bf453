/**
 * A request held for approval (RFC 7030 §4.2.3) outlives the client that made it: `estuary client`
 * keeps a key it made, with the request, in `<out-key>.pending.json` before sending, exits 5 with
 * the command to run again, and a re-run with the same outputs collects the certificate for that
 * key once an officer approved (`estuary request approve`). The renew agent keeps its rekeyed key
 * the same way between attempts. Real server over TLS in this process, the built CLI in children.
 */
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { estuary, estuaryClient as client } from '../helpers/cli.js';
import { startServer, tempDir, type TestServer } from '../helpers/home.js';

let s: TestServer;
let dir: string;
let server: string;
let caFile: string;
let passwordFile: string;
let keyPasswordFile: string;
let user: string;

const file = (name: string): string => join(dir, name);
const withBasic = (op: string, ...more: string[]): string[] => [op, '--server', server, '--ca', caFile, '--user', user, '--password-file', passwordFile, '--label', 'held', ...more];
const spki = (key: Parameters<typeof createPublicKey>[0]): Buffer => createPublicKey(key).export({ type: 'spki', format: 'der' });

/** Approves the one pending request of the profile with `estuary request approve`, as an officer would. */
async function approveOne(): Promise<void> {
  const pending = (await s.runtime.store.listPendingRequests({ profile: 'held' })).filter((r) => r.status === 'pending');
  expect(pending).toHaveLength(1);
  const r = await estuary(['request', 'approve', String(pending[0]!.id), '--home', s.home, '--officer', 'officer@example.com']);
  expect(r.code, r.stderr).toBe(0);
}

/** The key kept in a pending file, as a KeyObject. */
function keptKey(pendingFile: string, passphrase?: string): ReturnType<typeof createPrivateKey> {
  const { keyPem } = JSON.parse(readFileSync(pendingFile, 'utf8')) as { keyPem: string };
  return createPrivateKey(passphrase ? { key: keyPem, passphrase } : keyPem);
}

beforeAll(async () => {
  s = await startServer();
  dir = tempDir('estuary-client-pending-');
  server = `https://127.0.0.1:${s.port}`;
  caFile = file('root.pem');
  writeFileSync(caFile, s.rootPem);
  user = s.summary.estAccount.email;
  passwordFile = file('password');
  writeFileSync(passwordFile, s.summary.estAccount.password + '\n', { mode: 0o600 });
  keyPasswordFile = file('key.pass');
  writeFileSync(keyPasswordFile, 'kept key passphrase\n', { mode: 0o600 });
  const p = (await s.runtime.store.getProfile('default'))!;
  await s.runtime.store.createProfile({ ...p, label: 'held', approval: 'manual', retryAfterSeconds: 1 });
});
afterAll(async () => {
  await s.runtime.close();
});

describe('estuary client after giving up on a 202', () => {
  it('enroll keeps the key (0600) and the request, prints the command to resume, and the re-run collects the certificate for that key', async () => {
    const args = withBasic('enroll', '--cn', 'kept-1', '--dns', 'kept-1.example', '--max-wait', '1', '--out-key', file('kept.key'), '--out-cert', file('kept.pem'));
    const first = await client(args);
    expect(first.code, first.stderr).toBe(5);
    const pendingFile = file('kept.key.pending.json');
    expect(first.stderr).toContain(pendingFile);
    expect(first.stderr).toMatch(/run the same command again/);
    expect(first.stderr).toContain(`estuary client enroll --server ${server}`);
    expect(statSync(pendingFile).mode & 0o777).toBe(0o600);
    expect(existsSync(file('kept.pem'))).toBe(false);
    const kept = keptKey(pendingFile);

    await approveOne();
    const again = await client(args);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/resuming the request pending since/);
    const cert = new X509Certificate(readFileSync(file('kept.pem')));
    expect(cert.subject).toBe('CN=kept-1');
    expect(cert.publicKey.export({ type: 'spki', format: 'der' }).equals(spki(kept))).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(readFileSync(file('kept.key'))))).toBe(true);
    expect(statSync(file('kept.key')).mode & 0o777).toBe(0o600);
    expect(existsSync(pendingFile)).toBe(false);
    expect((await s.runtime.store.listPendingRequests({ profile: 'held' })).filter((r) => r.status === 'pending')).toHaveLength(0);
  });

  it('a re-run asking for other names is refused before anything is sent, and the kept request stays', async () => {
    const args = withBasic('enroll', '--cn', 'kept-2', '--max-wait', '0', '--out-key', file('kept2.key'));
    expect((await client(args)).code).toBe(5);
    const other = await client(withBasic('enroll', '--cn', 'other-name', '--max-wait', '0', '--out-key', file('kept2.key')));
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/kept2\.key\.pending\.json holds a request still pending/);
    expect(existsSync(file('kept2.key.pending.json'))).toBe(true);
    // the officer rejects it: the next run is told so (exit 4) and the kept request is dropped
    const pending = (await s.runtime.store.listPendingRequests({ profile: 'held' })).filter((r) => r.status === 'pending');
    expect((await estuary(['request', 'reject', String(pending[0]!.id), '--home', s.home, '--reason', 'not ours'])).code).toBe(0);
    const refused = await client(args);
    expect(refused.code, refused.stderr).toBe(4);
    expect(refused.stderr).toMatch(/rejected: not ours/);
    expect(existsSync(file('kept2.key.pending.json'))).toBe(false);
  });

  it('a new request the server did not hold (wrong password) leaves nothing behind', async () => {
    writeFileSync(file('bad-password'), 'not-the-password\n');
    const r = await client(['enroll', '--server', server, '--ca', caFile, '--user', user, '--password-file', file('bad-password'), '--label', 'held', '--cn', 'x', '--out-key', file('x.key')]);
    expect(r.code).toBe(3);
    expect(existsSync(file('x.key.pending.json'))).toBe(false);
  });

  it('reenroll --rekey keeps the new key encrypted with --key-password-file and installs it once approved', async () => {
    const certArgs = ['--cert', file('kept.pem'), '--key', file('kept.key')];
    const args = ['reenroll', '--server', server, '--ca', caFile, '--label', 'held', ...certArgs, '--rekey', '--key-password-file', keyPasswordFile,
      '--max-wait', '0', '--out-key', file('rekeyed.key'), '--out-cert', file('rekeyed.pem')];
    const first = await client(args);
    expect(first.code, first.stderr).toBe(5);
    const pendingFile = file('rekeyed.key.pending.json');
    expect(readFileSync(pendingFile, 'utf8')).toMatch(/BEGIN ENCRYPTED PRIVATE KEY/);
    const kept = keptKey(pendingFile, 'kept key passphrase');
    expect(spki(kept).equals(spki(createPrivateKey(readFileSync(file('kept.key')))))).toBe(false);

    await approveOne();
    const again = await client(args);
    expect(again.code, again.stderr).toBe(0);
    const cert = new X509Certificate(readFileSync(file('rekeyed.pem')));
    expect(cert.subject).toBe('CN=kept-1');
    expect(cert.publicKey.export({ type: 'spki', format: 'der' }).equals(spki(kept))).toBe(true);
    expect(readFileSync(file('rekeyed.key'), 'utf8')).toMatch(/BEGIN ENCRYPTED PRIVATE KEY/);
    expect(existsSync(pendingFile)).toBe(false);
  });

  it('serverkeygen keeps the key that signs the request; the server makes the certificate key when the approved request is collected', async () => {
    const args = withBasic('serverkeygen', '--cn', 'kept-skg', '--max-wait', '0', '--out-key', file('skg.key'), '--out-cert', file('skg.pem'));
    expect((await client(args)).code).toBe(5);
    const signing = keptKey(file('skg.key.pending.json'));
    await approveOne();
    const again = await client(args);
    expect(again.code, again.stderr).toBe(0);
    const cert = new X509Certificate(readFileSync(file('skg.pem')));
    expect(cert.checkPrivateKey(createPrivateKey(readFileSync(file('skg.key'))))).toBe(true);
    expect(cert.publicKey.export({ type: 'spki', format: 'der' }).equals(spki(signing))).toBe(false);
    expect(existsSync(file('skg.key.pending.json'))).toBe(false);
  });
});

describe('estuary client renew with rekey on a manual profile', () => {
  it('keeps the rekeyed key between attempts and installs the certificate issued for it', async () => {
    writeFileSync(file('agent.pem'), readFileSync(file('rekeyed.pem')));
    writeFileSync(file('agent.key'), readFileSync(file('rekeyed.key')), { mode: 0o600 });
    writeFileSync(file('renew.yaml'), [
      'entries:',
      '  - name: agent',
      `    server: ${server}`,
      '    label: held',
      `    trust: { ca: ${caFile} }`,
      '    cert: agent.pem',
      '    key: agent.key',
      '    rekey: true',
      `    keyPasswordFile: ${keyPasswordFile}`,
      '    maxWaitSeconds: 0',
      '',
    ].join('\n'));
    const run = (): ReturnType<typeof client> => client(['renew', '--config', file('renew.yaml'), '--force', '--json']);
    const first = await run();
    expect(first.code, first.stderr).toBe(1);
    expect(JSON.parse(first.stdout).entries[0]).toMatchObject({ status: 'failed', kind: 'pending' });
    const kept = keptKey(file('agent.key.pending.json'), 'kept key passphrase');
    // a second attempt before the decision re-sends the same request (no second pending request)
    expect((await run()).code).toBe(1);
    expect(spki(keptKey(file('agent.key.pending.json'), 'kept key passphrase')).equals(spki(kept))).toBe(true);

    await approveOne();
    const again = await run();
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).entries[0]).toMatchObject({ status: 'renewed', rekeyed: true });
    const cert = new X509Certificate(readFileSync(file('agent.pem')));
    expect(cert.publicKey.export({ type: 'spki', format: 'der' }).equals(spki(kept))).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey({ key: readFileSync(file('agent.key')), passphrase: 'kept key passphrase' }))).toBe(true);
    expect(existsSync(file('agent.key.pending.json'))).toBe(false);
  });

  it('keeps the key of a fresh enrollment (enrollIfExpired, no certificate yet) between attempts', async () => {
    writeFileSync(file('fresh.yaml'), [
      'entries:',
      '  - name: fresh',
      `    server: ${server}`,
      '    label: held',
      `    trust: { ca: ${caFile} }`,
      '    cert: fresh.pem',
      '    key: fresh.key',
      '    enrollIfExpired: true',
      '    subject: CN=fresh.example',
      '    dns: [fresh.example]',
      '    maxWaitSeconds: 0',
      `    auth: { user: ${user}, passwordFile: ${passwordFile} }`,
      '',
    ].join('\n'));
    const run = (): ReturnType<typeof client> => client(['renew', '--config', file('fresh.yaml'), '--json']);
    expect((await run()).code).toBe(1);
    const kept = keptKey(file('fresh.key.pending.json'));
    expect((await run()).code).toBe(1);
    await approveOne();
    const done = await run();
    expect(done.code, done.stderr).toBe(0);
    expect(JSON.parse(done.stdout).entries[0]).toMatchObject({ status: 'enrolled' });
    const cert = new X509Certificate(readFileSync(file('fresh.pem')));
    expect(cert.subject).toBe('CN=fresh.example');
    expect(cert.publicKey.export({ type: 'spki', format: 'der' }).equals(spki(kept))).toBe(true);
    expect(existsSync(file('fresh.key.pending.json'))).toBe(false);
  });
});
