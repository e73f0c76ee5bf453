/**
 * Interop with curl + openssl as independent clients: the README's copy-paste enrollment,
 * reenroll with the client certificate, csrattrs, and `openssl verify` of what was issued.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, tempDir, type TestServer } from '../helpers/home.js';

let s: TestServer;
let dir: string;

/** Async on purpose: the server runs in this process, so a blocking child would deadlock it. */
async function sh(script: string, env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', script], { cwd: dir, env: { ...process.env, ...env }, encoding: 'utf8' });
  return stdout;
}

beforeAll(async () => {
  for (const tool of ['curl', 'openssl']) {
    try {
      execFileSync(tool, [tool === 'openssl' ? 'version' : '--version'], { stdio: 'ignore' });
    } catch {
      throw new Error(`${tool} is required for the interop tests (Debian package ${tool})`);
    }
  }
  s = await startServer();
  dir = tempDir('estuary-curl-');
  writeFileSync(join(dir, 'trust.pem'), s.rootPem);
});
afterAll(async () => {
  await s.runtime.close();
});

describe('curl + openssl', () => {
  it('fetches cacerts, verifies the chain and pins the root by fingerprint', async () => {
    await sh(`curl -sS --fail --cacert trust.pem "$BASE/cacerts" | openssl base64 -d | openssl pkcs7 -inform DER -print_certs -out chain.pem`, { BASE: s.base });
    await sh(`awk '/BEGIN/{n++} n==2' chain.pem > root.pem; awk '/BEGIN/{n++} n==1' chain.pem > issuing.pem`);
    const fp = (await sh('openssl x509 -in root.pem -noout -fingerprint -sha256')).trim().split('=')[1];
    expect(fp).toBe(s.summary.rootFingerprintSha256);
    expect(await sh('openssl verify -CAfile root.pem issuing.pem')).toMatch(/issuing.pem: OK/);
  });

  it('enrolls with HTTP Basic and the certificate verifies under the root from cacerts', async () => {
    await sh(
      `openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem -subj "/CN=curl-device" -addext "subjectAltName=DNS:curl-device.example" -outform DER | openssl base64 > csr.b64
       curl -sS --fail --cacert root.pem -u "$EST_USER:$EST_PASSWORD" -H "Content-Type: application/pkcs10" --data-binary @csr.b64 "$BASE/simpleenroll" -o cert.p7.b64
       openssl base64 -d -in cert.p7.b64 | openssl pkcs7 -inform DER -print_certs -out cert.pem`,
      { BASE: s.base, EST_USER: s.summary.estAccount.email, EST_PASSWORD: s.summary.estAccount.password },
    );
    expect(await sh('openssl verify -CAfile root.pem -untrusted issuing.pem cert.pem')).toMatch(/cert.pem: OK/);
    const text = await sh('openssl x509 -in cert.pem -noout -subject -ext subjectAltName,basicConstraints');
    expect(text).toMatch(/CN ?= ?curl-device/);
    expect(text).toMatch(/DNS:curl-device.example/);
    expect(text).toMatch(/CA:FALSE/);
  });

  it('reenrolls with the issued certificate as the TLS client certificate', async () => {
    await sh(
      `openssl req -new -key key.pem -subj "/CN=curl-device" -addext "subjectAltName=DNS:curl-device.example" -outform DER | openssl base64 > recsr.b64
       curl -sS --fail --cacert root.pem --cert cert.pem --key key.pem -H "Content-Type: application/pkcs10" --data-binary @recsr.b64 "$BASE/simplereenroll" | openssl base64 -d | openssl pkcs7 -inform DER -print_certs -out renewed.pem`,
      { BASE: s.base },
    );
    expect(await sh('openssl verify -CAfile root.pem -untrusted issuing.pem renewed.pem')).toMatch(/renewed.pem: OK/);
    const oldSerial = await sh('openssl x509 -in cert.pem -noout -serial');
    const newSerial = await sh('openssl x509 -in renewed.pem -noout -serial');
    expect(newSerial).not.toBe(oldSerial);
    expect(await sh('openssl x509 -in renewed.pem -noout -subject')).toBe(await sh('openssl x509 -in cert.pem -noout -subject'));
  });

  it('reads csrattrs: 204 when empty, the attribute list when configured', async () => {
    expect(await sh(`curl -sS --cacert root.pem -o /dev/null -w '%{http_code}' "$BASE/csrattrs"`, { BASE: s.base })).toBe('204');
    const p = (await s.runtime.store.getProfile('default'))!;
    await s.runtime.store.updateProfile({ ...p, csrAttrs: ['challengePassword', 'extensionRequest'] });
    const parsed = await sh(`curl -sS --fail --cacert root.pem "$BASE/csrattrs" | openssl base64 -d | openssl asn1parse -inform DER`, { BASE: s.base });
    expect(parsed).toMatch(/challengePassword/);
    expect(parsed).toMatch(/Extension Request/);
  });

  it('shows the 401 challenge and the text reason to curl', async () => {
    const out = await sh(`curl -sS --cacert root.pem -D - -H "Content-Type: application/pkcs10" --data-binary @csr.b64 "$BASE/simpleenroll"`, { BASE: s.base });
    expect(out).toMatch(/^HTTP\/1.1 401/);
    expect(out).toMatch(/www-authenticate: Basic realm="estuary default"/i);
    // curl sends a User-Agent: the challenge carries its reason as text
    expect(out).toMatch(/content-type: text\/plain/i);
    expect(out).toMatch(/HTTP Basic credentials \(EST account email and password\) are required/);
    expect(readFileSync(join(dir, 'csr.b64'), 'utf8').length).toBeGreaterThan(100);
  });
});
