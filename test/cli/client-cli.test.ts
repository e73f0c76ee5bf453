/**
 * `estuary client` as users run it (dist/cli/main.js in child processes) against Estuary's own
 * server over real TLS: trust bootstrap, every operation, the auth mechanisms, 202, PoP, and the
 * documented exit codes.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pemBlocks } from '../../src/pki/base64.js';
import { estuaryClient as client, MAIN } from '../helpers/cli.js';
import { makeDeviceCa, type DeviceCa } from '../helpers/device-ca.js';
import { startServer, tempDir, type TestServer } from '../helpers/home.js';

const run = promisify(execFile);

let s: TestServer;
let dir: string;
let server: string;
let caFile: string;
let passwordFile: string;
let user: string;
let deviceCa: DeviceCa;

const file = (name: string): string => join(dir, name);
const trusted = (op: string, ...more: string[]): string[] => [op, '--server', server, '--ca', caFile, ...more];
const withBasic = (op: string, ...more: string[]): string[] => trusted(op, '--user', user, '--password-file', passwordFile, ...more);

async function openssl(args: string[]): Promise<string> {
  return (await run('openssl', args, { encoding: 'utf8' })).stdout;
}

beforeAll(async () => {
  s = await startServer();
  dir = tempDir('estuary-client-cli-');
  server = `https://127.0.0.1:${s.port}`;
  caFile = file('root.pem');
  writeFileSync(caFile, s.rootPem);
  user = s.summary.estAccount.email;
  passwordFile = file('password');
  writeFileSync(passwordFile, s.summary.estAccount.password + '\n', { mode: 0o600 });
  deviceCa = await makeDeviceCa();
  const p = (await s.runtime.store.getProfile('default'))!;
  await s.runtime.store.createProfile({ ...p, label: 'held', approval: 'manual', retryAfterSeconds: 1 });
  await s.runtime.store.createProfile({ ...p, label: 'pop', popLinking: 'required' });
  await s.runtime.store.createProfile({ ...p, label: 'p384', keyAlgorithms: [{ type: 'ec', curves: ['P-384'] }], csrAttrs: ['challengePassword'] });
  await s.runtime.store.createProfile({ ...p, label: 'devices', auth: 'tls-client-cert', clientTrustAnchors: [deviceCa.pem] });
  await s.runtime.store.createProfile({ ...p, label: 'both', auth: 'basic+tls-client-cert', clientTrustAnchors: [deviceCa.pem] });
});
afterAll(async () => {
  await s.runtime.close();
});

describe('trust', () => {
  it('refuses to talk to a server it has no trust for (exit 2)', async () => {
    const r = await client(['cacerts', '--server', server]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--ca FILE, --fingerprint SHA256/);
  });

  it('bootstraps from the root fingerprint and stores the CA certificates as trust anchors', async () => {
    const out = file('bootstrapped.pem');
    const r = await client(['cacerts', '--server', server, '--fingerprint', s.summary.rootFingerprintSha256, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const certs = pemBlocks(readFileSync(out, 'utf8'));
    expect(certs.length).toBe(2);
    const fingerprints = certs.map((c) => createHash('sha256').update(c).digest('hex'));
    expect(fingerprints).toContain(s.summary.rootFingerprintSha256.replace(/:/g, '').toLowerCase());
    // the stored bundle is then usable as --ca
    const again = await client(['cacerts', '--server', server, '--ca', out, '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).certificates).toHaveLength(2);
  });

  it('rejects /cacerts whose certificates do not have the fingerprint (exit 6) and writes nothing', async () => {
    const out = file('wrong.pem');
    const r = await client(['cacerts', '--server', server, '--fingerprint', 'ab'.repeat(32), '--out', out]);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/fingerprint/i);
    expect(existsSync(out)).toBe(false);
  });

  it('with a wrong fingerprint, enroll sends no credentials: nothing reaches the enrollment service', async () => {
    const before = (await s.runtime.store.listAudit({ limit: 1000 })).length;
    const r = await client(['enroll', '--server', server, '--fingerprint', 'cd'.repeat(32), '--user', user, '--password-file', passwordFile, '--cn', 'never', '--out-key', file('never.key')]);
    expect(r.code).toBe(6);
    expect((await s.runtime.store.listAudit({ limit: 1000 })).length).toBe(before);
  });

  it('rejects a server whose certificate does not name the host it was reached by (exit 6)', async () => {
    // The real server, reached as 127.0.0.2 (all of 127/8 is loopback) through a TCP pass-through:
    // its certificate names localhost, 127.0.0.1 and ::1, not 127.0.0.2.
    const relay = createServer((socket) => {
      const upstream = connect(s.port, '127.0.0.1');
      for (const end of [socket, upstream]) end.on('error', () => end.destroy()); // the client hangs up on the refused identity
      socket.pipe(upstream).pipe(socket);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.2', resolve));
    try {
      const r = await client(['cacerts', '--server', `https://127.0.0.2:${(relay.address() as AddressInfo).port}`, '--ca', caFile]);
      expect(r.code, r.stderr).toBe(6);
      expect(r.stderr).toMatch(/127\.0\.0\.2/);
    } finally {
      relay.close();
    }
  });

  it('--insecure says loudly what it skips', async () => {
    const r = await client(['cacerts', '--server', server, '--insecure']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/WARNING --insecure/);
    expect(pemBlocks(r.stdout)).toHaveLength(2);
  });
});

describe('enroll', () => {
  it('generates a key, enrolls with HTTP Basic, and writes key (0600), certificate and chain', async () => {
    const r = await client(withBasic('enroll', '--cn', 'web1.example.com', '--dns', 'web1.example.com,www.example.com', '--ip', '192.0.2.7',
      '--out-key', file('web1.key'), '--out-cert', file('web1.pem'), '--out-chain', file('web1-chain.pem'), '--json'));
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.subject).toBe('CN=web1.example.com');
    expect(statSync(file('web1.key')).mode & 0o777).toBe(0o600);
    const cert = new X509Certificate(readFileSync(file('web1.pem')));
    expect(cert.subjectAltName).toContain('DNS:www.example.com');
    expect(cert.subjectAltName).toContain('IP Address:192.0.2.7');
    expect(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(readFileSync(file('web1.key'))))).toBe(true);
    expect(await openssl(['verify', '-CAfile', caFile, '-untrusted', file('web1-chain.pem'), file('web1.pem')])).toMatch(/OK/);
  });

  it('reads the password from $ESTUARY_PASSWORD and uses an existing --key', async () => {
    const r = await client(trusted('enroll', '--user', user, '--key', file('web1.key'), '--cn', 'same-key', '--out-cert', file('same-key.pem')), { env: { ESTUARY_PASSWORD: s.summary.estAccount.password } });
    expect(r.code, r.stderr).toBe(0);
    const a = new X509Certificate(readFileSync(file('same-key.pem')));
    const b = new X509Certificate(readFileSync(file('web1.pem')));
    expect(a.publicKey.export({ format: 'der', type: 'spki' }).equals(b.publicKey.export({ format: 'der', type: 'spki' }))).toBe(true);
  });

  it('bootstraps and enrolls in one command with --fingerprint', async () => {
    const r = await client(['enroll', '--server', server, '--fingerprint', s.summary.rootFingerprintSha256, '--user', user, '--password-file', passwordFile,
      '--cn', 'boot', '--out-key', file('boot.key'), '--out-cert', file('boot.pem')]);
    expect(r.code, r.stderr).toBe(0);
    expect(new X509Certificate(readFileSync(file('boot.pem'))).subject).toBe('CN=boot');
  });

  it('asks for the password on a terminal when there is no file or environment variable', async () => {
    // `script` gives the client a pseudo-terminal; the password is typed once the prompt shows.
    const cmd = ['node', MAIN, 'client', ...trusted('enroll', '--user', user, '--cn', 'prompted', '--out-key', file('prompted.key'), '--out-cert', file('prompted.pem'))]
      .map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
    const child = spawn('script', ['-qec', cmd, '/dev/null'], { env: { ...process.env, ESTUARY_PASSWORD: '' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('Password for') && !out.includes('typed')) {
        out += '(typed)';
        child.stdin.write(s.summary.estAccount.password + '\r');
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, out).toBe(0);
    expect(out).not.toContain(s.summary.estAccount.password);
    expect(new X509Certificate(readFileSync(file('prompted.pem'))).subject).toBe('CN=prompted');
  });

  it('writes an encrypted private key with --key-password-file', async () => {
    writeFileSync(file('keypass'), 'correct horse battery\n');
    const r = await client(withBasic('enroll', '--cn', 'enc', '--key-type', 'rsa-2048', '--out-key', file('enc.key'), '--out-cert', file('enc.pem'), '--key-password-file', file('keypass')));
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(file('enc.key'), 'utf8')).toMatch(/BEGIN ENCRYPTED PRIVATE KEY/);
    expect(await openssl(['pkey', '-in', file('enc.key'), '-passin', `file:${file('keypass')}`, '-noout', '-text'])).toMatch(/2048 bit/);
  });

  it('refuses to make a key it would have to throw away (no --out-key): exit 2', async () => {
    const r = await client(withBasic('enroll', '--cn', 'lost'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--out-key/);
  });

  it('a wrong password is exit 3, a policy refusal exit 4', async () => {
    writeFileSync(file('bad-password'), 'not-the-password\n');
    const bad = await client(trusted('enroll', '--user', user, '--password-file', file('bad-password'), '--cn', 'x', '--out-key', file('x.key')));
    expect(bad.code).toBe(3);
    const refused = await client(withBasic('enroll', '--label', 'p384', '--no-csrattrs', '--key-type', 'ec-p256', '--cn', 'x', '--out-key', file('x.key')));
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/P-384|key/);
  });

  it('follows /csrattrs: the key type the profile asks for, and PoP linking', async () => {
    const r = await client(withBasic('enroll', '--label', 'p384', '--cn', 'follows', '--out-key', file('p384.key'), '--out-cert', file('p384.pem')));
    expect(r.code, r.stderr).toBe(0);
    expect(await openssl(['pkey', '-in', file('p384.key'), '-noout', '-text'])).toMatch(/NIST CURVE: P-384|secp384r1/i);
  });

  it('takes the EST URL a profile shows (…/.well-known/est/<label>) as --server', async () => {
    const r = await client(['enroll', '--server', `${server}/.well-known/est/p384`, '--ca', caFile, '--user', user, '--password-file', passwordFile, '--cn', 'by-url', '--out-key', file('by-url.key'), '--out-cert', file('by-url.pem')]);
    expect(r.code, r.stderr).toBe(0);
    expect(await openssl(['pkey', '-in', file('by-url.key'), '-noout', '-text'])).toMatch(/P-384|secp384r1/i);
    const clash = await client(['cacerts', '--server', `${server}/.well-known/est/p384`, '--label', 'pop', '--ca', caFile]);
    expect(clash.code).toBe(2);
  });

  it('csrattrs prints the attributes with their names', async () => {
    const r = await client(withBasic('csrattrs', '--label', 'p384'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/challengePassword/);
    expect(r.stdout).toMatch(/1\.2\.840\.10045\.2\.1/);
    const none = await client(withBasic('csrattrs'));
    expect(none.stdout).toMatch(/204/);
  });

  for (const version of ['1.2', '1.3']) {
    it(`links proof-of-possession to the TLS ${version} session on a profile that requires it`, async () => {
      const r = await client(withBasic('enroll', '--label', 'pop', '--tls-version', version, '--cn', `pop-${version}`, '--out-key', file(`pop${version}.key`), '--out-cert', file(`pop${version}.pem`)));
      expect(r.code, r.stderr).toBe(0);
      const without = await client(withBasic('enroll', '--label', 'pop', '--tls-version', version, '--no-pop', '--cn', 'nopop', '--out-key', file('nopop.key')));
      expect(without.code).toBe(4);
      expect(without.stderr).toMatch(/proof-of-possession/);
    });
  }
});

describe('TLS client authentication and reenroll', () => {
  it('enrolls on a tls-client-cert profile with a device certificate, and on a both profile with both', async () => {
    const device = await deviceCa.issue('device-42');
    writeFileSync(file('device.pem'), device.cert);
    writeFileSync(file('device.key'), device.key, { mode: 0o600 });
    const tlsOnly = await client(trusted('enroll', '--label', 'devices', '--cert', file('device.pem'), '--client-key', file('device.key'), '--cn', 'device-42', '--out-key', file('d42.key'), '--out-cert', file('d42.pem')));
    expect(tlsOnly.code, tlsOnly.stderr).toBe(0);
    const noCert = await client(trusted('enroll', '--label', 'devices', '--cn', 'device-42', '--out-key', file('d42b.key')));
    expect(noCert.code).toBe(3);
    const both = await client(withBasic('enroll', '--label', 'both', '--cert', file('device.pem'), '--client-key', file('device.key'), '--cn', 'device-42', '--out-key', file('d42c.key'), '--out-cert', file('d42c.pem')));
    expect(both.code, both.stderr).toBe(0);
    const bothWithoutBasic = await client(trusted('enroll', '--label', 'both', '--cert', file('device.pem'), '--client-key', file('device.key'), '--cn', 'device-42', '--out-key', file('d42d.key')));
    expect(bothWithoutBasic.code).toBe(3);
  });

  it('renews with the same key, then rekeys; subject and SAN are carried over exactly', async () => {
    const renew = await client(trusted('reenroll', '--cert', file('web1.pem'), '--key', file('web1.key'), '--out-cert', file('web1-renewed.pem')));
    expect(renew.code, renew.stderr).toBe(0);
    const old = new X509Certificate(readFileSync(file('web1.pem')));
    const renewed = new X509Certificate(readFileSync(file('web1-renewed.pem')));
    expect(renewed.subject).toBe(old.subject);
    expect(renewed.subjectAltName).toBe(old.subjectAltName);
    expect(renewed.serialNumber).not.toBe(old.serialNumber);
    expect(renewed.publicKey.export({ format: 'der', type: 'spki' }).equals(old.publicKey.export({ format: 'der', type: 'spki' }))).toBe(true);
    const record = await s.runtime.store.getCertificate(renewed.serialNumber.toLowerCase().replace(/^0+/, ''));
    expect(record?.renews).toBe(old.serialNumber.toLowerCase().replace(/^0+/, ''));

    const rekey = await client(trusted('reenroll', '--rekey', '--cert', file('web1-renewed.pem'), '--key', file('web1.key'), '--out-cert', file('web1-rekeyed.pem'), '--out-key', file('web1-rekeyed.key')));
    expect(rekey.code, rekey.stderr).toBe(0);
    const rekeyed = new X509Certificate(readFileSync(file('web1-rekeyed.pem')));
    expect(rekeyed.publicKey.export({ format: 'der', type: 'spki' }).equals(renewed.publicKey.export({ format: 'der', type: 'spki' }))).toBe(false);
    expect(statSync(file('web1-rekeyed.key')).mode & 0o777).toBe(0o600);
  });

  it('reenroll with a certificate that was revoked is refused (exit 3)', async () => {
    const serial = new X509Certificate(readFileSync(file('same-key.pem'))).serialNumber.toLowerCase().replace(/^0+/, '');
    await s.runtime.store.revokeCertificate(serial, 'keyCompromise', new Date());
    const r = await client(trusted('reenroll', '--cert', file('same-key.pem'), '--key', file('web1.key'), '--out-cert', file('never.pem')));
    expect([3, 4]).toContain(r.code);
    expect(existsSync(file('never.pem'))).toBe(false);
  });
});

describe('serverkeygen', () => {
  it('returns a key made by the server, plain', async () => {
    const r = await client(withBasic('serverkeygen', '--cn', 'skg', '--out-key', file('skg.key'), '--out-cert', file('skg.pem')));
    expect(r.code, r.stderr).toBe(0);
    const cert = new X509Certificate(readFileSync(file('skg.pem')));
    expect(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(readFileSync(file('skg.key'))))).toBe(true);
    expect(statSync(file('skg.key')).mode & 0o777).toBe(0o600);
  });

  it('returns the key encrypted to the TLS client certificate and opens it with --encrypt', async () => {
    const r = await client(withBasic('serverkeygen', '--encrypt', '--cert', file('web1-rekeyed.pem'), '--client-key', file('web1-rekeyed.key'), '--cn', 'skg-enc', '--out-key', file('skg-enc.key'), '--out-cert', file('skg-enc.pem')));
    expect(r.code, r.stderr).toBe(0);
    // RFC 7030 §4.4.2: signed by the server (its TLS certificate): verified, nothing to warn about
    expect(r.stderr).not.toMatch(/serverkeygen: /);
    const cert = new X509Certificate(readFileSync(file('skg-enc.pem')));
    expect(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(readFileSync(file('skg-enc.key'))))).toBe(true);
  });
});

describe('manual approval (202)', () => {
  it('waits for Retry-After, says until when, and collects the certificate once approved', async () => {
    const child = spawn('node', [MAIN, 'client', ...withBasic('enroll', '--label', 'held', '--cn', 'held-1', '--max-wait', '60', '--out-key', file('held.key'), '--out-cert', file('held.pem'))], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    let pending = await s.runtime.store.listPendingRequests({ profile: 'held' });
    for (let i = 0; i < 100 && pending.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      pending = await s.runtime.store.listPendingRequests({ profile: 'held' });
    }
    expect(pending).toHaveLength(1);
    await s.runtime.store.decidePendingRequest(pending[0]!.id, 'approved', 'officer@example.com', null, new Date());
    expect(await exited, stderr).toBe(0);
    expect(stderr).toMatch(/waiting 1 s, until \d{4}-\d\d-\d\dT/);
    expect(new X509Certificate(readFileSync(file('held.pem'))).subject).toBe('CN=held-1');
  });

  it('gives up with exit 5 when still pending at --max-wait', async () => {
    const r = await client(withBasic('enroll', '--label', 'held', '--cn', 'held-2', '--max-wait', '0', '--out-key', file('held2.key')));
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/pending|approval/i);
  });
});

describe('network failures', () => {
  it('a server that is not there is exit 7', async () => {
    const r = await client(['cacerts', '--server', 'https://127.0.0.1:1', '--ca', caFile]);
    expect(r.code).toBe(7);
  });
});
