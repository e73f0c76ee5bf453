/**
 * EstClient with a pool of kept-alive connections (the RA's upstream connection): concurrent
 * requests share at most maxConnections TLS connections, and submit() answers once with the value.
 */
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EstClient } from '../../src/client/est-client.js';
import { EstClientError } from '../../src/client/errors.js';
import { pemBlocks } from '../../src/pki/base64.js';
import { startServer, type TestServer } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';

let s: TestServer;
let basic: { user: string; password: string };

beforeAll(async () => {
  s = await startServer();
  basic = { user: s.summary.estAccount.email, password: s.summary.estAccount.password };
  const p = (await s.runtime.store.getProfile('default'))!;
  await s.runtime.store.createProfile({ ...p, label: 'held', approval: 'manual', retryAfterSeconds: 13 });
});
afterAll(async () => {
  await s.runtime.close();
});

describe('EstClient connection pool', () => {
  it('sends 40 concurrent enrollments over at most 4 TLS connections', async () => {
    const client = new EstClient({ server: `https://127.0.0.1:${s.port}`, trust: { kind: 'explicit', anchors: pemBlocks(s.rootPem) }, basic, maxConnections: 4 });
    try {
      const csrs = await Promise.all(Array.from({ length: 40 }, (_, i) => makeCsr({ name: `CN=pool-${i}` })));
      const answers = await Promise.all(csrs.map((c) => client.submit('simpleenroll', c.der)));
      for (const [i, a] of answers.entries()) {
        expect(a.kind).toBe('issued');
        if (a.kind === 'issued') expect(new X509Certificate(a.result.certificate).subject).toBe(`CN=pool-${i}`);
      }
      expect(client.handshakes).toBeGreaterThanOrEqual(1);
      expect(client.handshakes).toBeLessThanOrEqual(4);
      // later requests reuse the idle connections
      const before = client.handshakes;
      await client.submit('simpleenroll', csrs[0]!.der);
      expect(client.handshakes).toBe(before);
    } finally {
      client.close();
    }
  });

  it('submit() returns a 202 as a value with its Retry-After, and a refusal as an error with the server\'s reason', async () => {
    const held = new EstClient({ server: `https://127.0.0.1:${s.port}`, label: 'held', trust: { kind: 'explicit', anchors: pemBlocks(s.rootPem) }, basic });
    const wrong = new EstClient({ server: `https://127.0.0.1:${s.port}`, trust: { kind: 'explicit', anchors: pemBlocks(s.rootPem) }, basic: { user: basic.user, password: 'not-the-password' } });
    try {
      const csr = await makeCsr({ name: 'CN=held-1' });
      const a = await held.submit('simpleenroll', csr.der);
      expect(a).toMatchObject({ kind: 'pending', retryAfterSeconds: 13 });
      const err = await wrong.submit('simpleenroll', csr.der).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(EstClientError);
      expect((err as EstClientError).status).toBe(401);
      const bad = await held.submit('simpleenroll', Buffer.from([0x30, 0x00])).then(() => undefined, (e: unknown) => e);
      expect((bad as EstClientError).status).toBe(400);
      expect((bad as EstClientError).answer?.reason).toMatch(/PKCS#10/);
    } finally {
      held.close();
      wrong.close();
    }
  });
});
