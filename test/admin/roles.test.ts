/**
 * Every API action tried by every role: admin (everything), officer (approve, reject, revoke,
 * read), auditor (read), anonymous (nothing but the OpenAPI document). A table drives it: each
 * row prepares a fresh target, so an allowed call really succeeds and a refused one changes nothing.
 */
import { defaultProfile } from '../../src/ra/default-profile.js';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintApiToken } from '../../src/admin/api-tokens-secret.js';
import { loadConfig } from '../../src/cli/config.js';
import { base32Decode, totp } from '../../src/ra/totp.js';
import type { AdminRole } from '../../src/ra/model.js';
import { startServer, tempDir, type TestServer } from '../helpers/home.js';
import { opensslIn } from '../helpers/openssl.js';
import { AdminClient, addAccount, enroll, signedIn } from './admin-client.js';

type Caller = AdminRole | 'anonymous';
const CALLERS: readonly Caller[] = ['admin', 'officer', 'auditor', 'anonymous'];
const READERS: readonly AdminRole[] = ['admin', 'officer', 'auditor'];

interface Action {
  name: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  allowed: readonly Caller[];
  /** Builds a fresh target; returns the path and body of the call. */
  prepare(n: number): Promise<{ path: string; body?: unknown }>;
  /** Verifies, after a refused call, that nothing changed. */
  unchanged?(n: number): Promise<void>;
}

let s: TestServer;
let admin: AdminClient;
const clients = new Map<Caller, AdminClient>();
const logins = new Map<Caller, { email: string; password: string }>();
let knownSerial: string;
let knownRequest: number;
let seq = 0;

async function heldRequest(): Promise<number> {
  const r = await s.runtime.store.createPendingRequest({
    profile: 'default', operation: 'simpleenroll', requester: 'est@estuary.local', keyId: `${++seq}`.padStart(64, '0'), csr: Buffer.from([0x30, 0]),
    subject: `CN=held-${seq}`, sans: [], keyDescription: 'EC P-256', createdAt: new Date(), expiresAt: new Date(Date.now() + 3_600_000),
  });
  return r.id;
}

async function issued(): Promise<string> {
  const e = await enroll(s, { cn: `matrix-${++seq}` });
  expect(e.status, e.text).toBe(200);
  return e.serial!;
}

/** A webhook endpoint added by the admin (to a closed port); its id. */
async function webhook(n: number, events = ['cert.revoked']): Promise<number> {
  const res = await admin.post('/api/webhooks', { url: `http://127.0.0.1:9/hook-${n}`, events });
  expect(res.status, res.text).toBe(201);
  return res.json.endpoint.id;
}

/** A delivery after its first (failed) attempt: not claimed again for a while (webhooks.retrySeconds, 30 s). */
async function attemptedDelivery(): Promise<number> {
  const endpointId = await webhook(++seq, ['request.pending']);
  await heldRequest();
  for (;;) {
    const [d] = (await s.runtime.store.listWebhookDeliveries({ endpointId })).items;
    if (d && d.attempts > 0) return d.id;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A CA made with a CSR (POST /api/cas as the admin), waiting for its certificate. */
async function pendingCa(id: string): Promise<string> {
  const res = await admin.post('/api/cas', { id, subject: `CN=${id}`, issuer: { csr: true } });
  expect(res.status, res.text).toBe(202);
  return res.json.csrPem;
}

/** The pending CA's certificate, signed by the test root with openssl. */
async function signedByRoot(id: string, csrPem: string): Promise<string> {
  const dir = tempDir();
  writeFileSync(join(dir, 'ca.csr'), csrPem);
  writeFileSync(join(dir, 'ext.cnf'), 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n');
  const signed = await opensslIn(dir, ['x509', '-req', '-in', 'ca.csr', '-CA', join(s.home, 'ca', 'root.pem'), '-CAkey', join(s.home, 'ca', 'root-key.pem'), '-days', '30', '-extfile', 'ext.cnf', '-out', 'ca.pem']);
  expect(signed.code, signed.out).toBe(0);
  return readFileSync(join(dir, 'ca.pem'), 'utf8');
}

const OFFICER_ACTIONS: readonly Caller[] = ['admin', 'officer'];
const MATRIX_SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const ADMIN: readonly Caller[] = ['admin'];

const ACTIONS: Action[] = ([
  { name: 'dashboard', method: 'GET', allowed: READERS, prepare: async () => ({ path: '/api/dashboard' }) },
  { name: 'session', method: 'GET', allowed: READERS, prepare: async () => ({ path: '/api/session' }) },
  { name: 'CA connectors', method: 'GET', allowed: READERS, prepare: async () => ({ path: '/api/cas' }) },
  { name: 'CA connector test', method: 'POST', allowed: ADMIN, prepare: async () => ({ path: '/api/cas/default/test', body: {} }) },
  {
    name: 'CA create', method: 'POST', allowed: ADMIN,
    prepare: async (n) => ({ path: '/api/cas', body: { id: `matrix-${n}`, subject: `CN=Matrix ${n}`, issuer: { selfSigned: true } } }),
    unchanged: async (n) => {
      expect(loadConfig(s.home, {}).cas[`matrix-${n}`]).toBeUndefined();
      expect(existsSync(join(s.home, 'ca', `matrix-${n}-key.pem`))).toBe(false);
    },
  },
  {
    name: 'CA certificate import', method: 'POST', allowed: ADMIN,
    prepare: async (n) => ({ path: `/api/cas/pending-${n}/certificate`, body: { certificate: await signedByRoot(`pending-${n}`, await pendingCa(`pending-${n}`)) } }),
    unchanged: async (n) => {
      expect(loadConfig(s.home, {}).cas[`pending-${n}`]).toBeUndefined();
      expect(existsSync(join(s.home, 'ca', `pending-${n}.pending.json`))).toBe(true);
    },
  },
  {
    name: 'CA CSR download', method: 'GET', allowed: READERS,
    prepare: async () => {
      if (!existsSync(join(s.home, 'ca', 'matrix-csr.pending.json'))) await pendingCa('matrix-csr');
      return { path: '/api/cas/pending/matrix-csr/csr.pem' };
    },
  },
  { name: 'profile list', method: 'GET', allowed: READERS, prepare: async () => ({ path: '/api/profiles' }) },
  { name: 'profile', method: 'GET', allowed: READERS, prepare: async () => ({ path: '/api/profiles/default' }) },
  {
    name: 'profile create', method: 'POST', allowed: ADMIN,
    prepare: async (n) => ({ path: '/api/profiles', body: { label: `matrix-${n}`, approval: 'manual' } }),
    unchanged: async (n) => expect(await s.runtime.store.getProfile(`matrix-${n}`)).toBeUndefined(),
  },
  {
    name: 'profile update', method: 'PUT', allowed: ADMIN,
    prepare: async (n) => ({ path: '/api/profiles/default', body: { validityDays: 100 + n } }),
    unchanged: async (n) => expect((await s.runtime.store.getProfile('default'))!.validitySeconds).not.toBe((100 + n) * 86_400),
  },
  {
    name: 'profile clone', method: 'POST', allowed: ADMIN,
    prepare: async (n) => ({ path: '/api/profiles/default/clone', body: { label: `clone-${n}` } }),
    unchanged: async (n) => expect(await s.runtime.store.getProfile(`clone-${n}`)).toBeUndefined(),
  },
  {
    name: 'profile removal plan', method: 'GET', allowed: READERS,
    prepare: async () => ({ path: '/api/profiles/default/removal' }),
  },
  {
    name: 'profile delete', method: 'DELETE', allowed: ADMIN,
    prepare: async (n) => {
      await s.runtime.store.createProfile({ ...defaultProfile(`gone-${n}`, 'default') });
      return { path: `/api/profiles/gone-${n}` };
    },
    unchanged: async (n) => expect(await s.runtime.store.getProfile(`gone-${n}`)).toBeDefined(),
  },
  { name: 'account list', method: 'GET', allowed: READERS, prepare: async () => ({ path: '/api/accounts' }) },
  {
    name: 'account removal plan', method: 'GET', allowed: READERS,
    prepare: async () => ({ path: '/api/accounts/est@estuary.local/removal' }),
  },
  {
    name: 'account delete', method: 'DELETE', allowed: ADMIN,
    prepare: async (n) => {
      await s.runtime.store.createAccount({ email: `del-${n}@example.com`, passwordHash: 'h', role: 'est' });
      return { path: `/api/accounts/del-${n}@example.com` };
    },
    unchanged: async (n) => expect(await s.runtime.store.getAccount(`del-${n}@example.com`)).toBeDefined(),
  },
  { name: 'account', method: 'GET', allowed: READERS, prepare: async () => ({ path: '/api/accounts/est@estuary.local' }) },
  {
    name: 'account create', method: 'POST', allowed: ADMIN,
    prepare: async (n) => ({ path: '/api/accounts', body: { email: `new-${n}@example.com`, role: 'est' } }),
    unchanged: async (n) => expect(await s.runtime.store.getAccount(`new-${n}@example.com`)).toBeUndefined(),
  },
  {
    name: 'account update', method: 'PATCH', allowed: ADMIN,
    prepare: async (n) => {
      await s.runtime.store.createAccount({ email: `patch-${n}@example.com`, passwordHash: 'h', role: 'est' });
      return { path: `/api/accounts/patch-${n}@example.com`, body: { allowedNames: [`name-${n}`], disabled: true } };
    },
    unchanged: async (n) => expect(await s.runtime.store.getAccount(`patch-${n}@example.com`)).toMatchObject({ allowedNames: [], disabled: false }),
  },
  {
    name: 'account password', method: 'POST', allowed: ADMIN,
    prepare: async (n) => {
      await s.runtime.store.createAccount({ email: `pw-${n}@example.com`, passwordHash: 'unchanged', role: 'est' });
      return { path: `/api/accounts/pw-${n}@example.com/password`, body: {} };
    },
    unchanged: async (n) => expect((await s.runtime.store.getAccount(`pw-${n}@example.com`))!.passwordHash).toBe('unchanged'),
  },
  {
    name: 'account unlock', method: 'POST', allowed: ADMIN,
    prepare: async (n) => {
      await s.runtime.store.createAccount({ email: `unlock-${n}@example.com`, passwordHash: 'h', role: 'est' });
      return { path: `/api/accounts/unlock-${n}@example.com/unlock`, body: {} };
    },
    unchanged: async (n) => expect((await s.runtime.store.getAccount(`unlock-${n}@example.com`))!.unlockedAt).toBeNull(),
  },
  {
    name: 'account profiles', method: 'PUT', allowed: ADMIN,
    prepare: async (n) => {
      await s.runtime.store.createAccount({ email: `restrict-${n}@example.com`, passwordHash: 'h', role: 'est' });
      return { path: `/api/accounts/restrict-${n}@example.com/profiles`, body: { profiles: ['default'] } };
    },
    unchanged: async (n) => expect((await s.runtime.store.getAccount(`restrict-${n}@example.com`))!.allowedProfiles).toEqual([]),
  },
  { name: 'own second factor', method: 'GET', allowed: READERS, prepare: async () => ({ path: '/api/mfa' }) },
  { name: 'second factor enrolment', method: 'POST', allowed: READERS, prepare: async () => ({ path: '/api/mfa' }) },
  {
    // every role confirms its own enrolment: each signed-in account waits with the same known secret
    name: 'second factor confirmation', method: 'POST', allowed: READERS,
    prepare: async () => {
      for (const { email } of logins.values()) await s.runtime.store.beginMfaEnrolment(email, MATRIX_SECRET, new Date());
      return { path: '/api/mfa/confirm', body: { code: totp(base32Decode(MATRIX_SECRET), Date.now()) } };
    },
  },
  ...(['recovery-codes', 'disable'] as const).map((verb): Action => ({
    // each signed-in account has a confirmed factor with the known secret; the call brings a current code
    name: `second factor ${verb}`, method: 'POST', allowed: READERS,
    prepare: async () => {
      for (const { email } of logins.values()) {
        await s.runtime.store.resetMfa(email);
        await s.runtime.store.beginMfaEnrolment(email, MATRIX_SECRET, new Date());
        await s.runtime.store.confirmMfa(email, MATRIX_SECRET, 1, [], new Date());
      }
      return { path: `/api/mfa/${verb}`, body: { code: totp(base32Decode(MATRIX_SECRET), Date.now()) } };
    },
  })),
  { name: 'second factor policy', method: 'GET', allowed: READERS, prepare: async () => ({ path: '/api/mfa/policy' }) },
  { name: 'second factor policy update', method: 'PUT', allowed: ADMIN, prepare: async () => ({ path: '/api/mfa/policy', body: { requiredRoles: [] } }) },
  {
    name: 'account second factor reset', method: 'DELETE', allowed: ADMIN,
    prepare: async (n) => {
      for (const { email } of logins.values()) await s.runtime.store.resetMfa(email); // the confirmations above: sign-ins stay one step
      await s.runtime.store.createAccount({ email: `mfa-${n}@example.com`, passwordHash: 'h', role: 'officer' });
      await s.runtime.store.beginMfaEnrolment(`mfa-${n}@example.com`, MATRIX_SECRET, new Date());
      await s.runtime.store.confirmMfa(`mfa-${n}@example.com`, MATRIX_SECRET, 1, [], new Date());
      return { path: `/api/accounts/mfa-${n}@example.com/mfa` };
    },
    unchanged: async (n) => expect((await s.runtime.store.getMfa(`mfa-${n}@example.com`))?.confirmedAt).toBeInstanceOf(Date),
  },
  { name: 'request list', method: 'GET', allowed: READERS, prepare: async () => ({ path: '/api/requests?status=all' }) },
  { name: 'request', method: 'GET', allowed: READERS, prepare: async () => ({ path: `/api/requests/${knownRequest}` }) },
  ...(['approve', 'reject'] as const).map((verb): Action => {
    const ids = new Map<number, number>();
    return {
      name: `request ${verb}`, method: 'POST', allowed: OFFICER_ACTIONS,
      prepare: async (n) => {
        ids.set(n, await heldRequest());
        return { path: `/api/requests/${ids.get(n)}/${verb}`, body: { reason: 'matrix' } };
      },
      unchanged: async (n) => expect((await s.runtime.store.getPendingRequest(ids.get(n)!))!.status).toBe('pending'),
    };
  }),
  { name: 'certificate search', method: 'GET', allowed: READERS, prepare: async () => ({ path: '/api/certificates?status=valid' }) },
  { name: 'certificate', method: 'GET', allowed: READERS, prepare: async () => ({ path: `/api/certificates/${knownSerial}` }) },
  { name: 'certificate PEM', method: 'GET', allowed: READERS, prepare: async () => ({ path: `/api/certificates/${knownSerial}/pem` }) },
  { name: 'certificate chain', method: 'GET', allowed: READERS, prepare: async () => ({ path: `/api/certificates/${knownSerial}/chain.pem` }) },
  (() => {
    const serials = new Map<number, string>();
    return {
      name: 'certificate revoke', method: 'POST', allowed: OFFICER_ACTIONS,
      prepare: async (n: number) => {
        serials.set(n, await issued());
        return { path: `/api/certificates/${serials.get(n)}/revoke`, body: { reason: 'superseded' } };
      },
      unchanged: async (n: number) => expect(await s.runtime.store.isRevoked(serials.get(n)!)).toBe(false),
    } satisfies Action;
  })(),
  { name: 'certificate export', method: 'GET', allowed: READERS, prepare: async () => ({ path: '/api/certificates/export?status=valid&format=json' }) },
  (() => {
    const serials = new Map<number, string>();
    return {
      name: 'certificate hold release', method: 'POST', allowed: OFFICER_ACTIONS,
      prepare: async (n: number) => {
        serials.set(n, await issued());
        expect(await s.runtime.store.revokeCertificate(serials.get(n)!, 'certificateHold', new Date())).toBe(true);
        return { path: `/api/certificates/${serials.get(n)}/release`, body: {} };
      },
      unchanged: async (n: number) => expect(await s.runtime.store.isRevoked(serials.get(n)!)).toBe(true),
    } satisfies Action;
  })(),
  { name: 'audit', method: 'GET', allowed: READERS, prepare: async () => ({ path: '/api/audit?limit=5' }) },
  { name: 'audit export CSV', method: 'GET', allowed: READERS, prepare: async () => ({ path: '/api/audit/export.csv?action=session.signin' }) },
  { name: 'audit export JSON', method: 'GET', allowed: READERS, prepare: async () => ({ path: '/api/audit/export.json?action=session.signin' }) },
  // every signed-in account, its own certificates only (the rest of /api/self: self-service.test.ts)
  { name: 'own certificates', method: 'GET', allowed: READERS, prepare: async () => ({ path: '/api/self/certificates' }) },
  { name: 'token list', method: 'GET', allowed: ADMIN, prepare: async () => ({ path: '/api/tokens' }) },
  {
    name: 'token create', method: 'POST', allowed: ADMIN,
    prepare: async (n) => ({ path: '/api/tokens', body: { name: `matrix-${n}`, role: 'auditor' } }),
    unchanged: async (n) => expect((await s.runtime.store.listApiTokens()).find((t) => t.name === `matrix-${n}`)).toBeUndefined(),
  },
  (() => {
    const ids = new Map<number, number>();
    return {
      name: 'token revoke', method: 'DELETE', allowed: ADMIN,
      prepare: async (n: number) => {
        ids.set(n, (await s.runtime.store.createApiToken(mintApiToken({ name: `revoke-${n}`, role: 'auditor', expiresInDays: 1, createdBy: 'test', now: new Date() }).record)).id);
        return { path: `/api/tokens/${ids.get(n)}` };
      },
      unchanged: async (n: number) => expect((await s.runtime.store.getApiToken(ids.get(n)!))!.revokedAt).toBeNull(),
    } satisfies Action;
  })(),
  { name: 'webhooks', method: 'GET', allowed: READERS, prepare: async () => ({ path: '/api/webhooks' }) },
  {
    name: 'webhook add', method: 'POST', allowed: ADMIN, prepare: async (n) => ({ path: '/api/webhooks', body: { url: `http://127.0.0.1:9/matrix-${n}`, events: ['cert.revoked'] } }),
    unchanged: async (n) => expect((await s.runtime.store.listWebhookEndpoints()).some((e) => e.url.endsWith(`/matrix-${n}`))).toBe(false),
  },
  (() => {
    const ids = new Map<number, number>();
    const at = (verb: 'remove' | 'test') => (n: number) => webhook(n).then((id) => {
      ids.set(n, id);
      return { path: verb === 'remove' ? `/api/webhooks/${id}` : `/api/webhooks/${id}/test` };
    });
    const unchanged = async (n: number) => expect(await s.runtime.store.getWebhookEndpoint(ids.get(n)!)).toBeDefined();
    return [
      { name: 'webhook remove', method: 'DELETE', allowed: ADMIN, prepare: at('remove'), unchanged },
      { name: 'webhook test', method: 'POST', allowed: ADMIN, prepare: at('test') },
    ] satisfies Action[];
  })(),
  { name: 'webhook deliveries', method: 'GET', allowed: READERS, prepare: async () => ({ path: '/api/webhook-deliveries?limit=5' }) },
  {
    name: 'webhook redeliver', method: 'POST', allowed: ADMIN, prepare: async () => ({ path: `/api/webhook-deliveries/${await attemptedDelivery()}/redeliver` }),
  },
  { name: 'sign out', method: 'DELETE', allowed: READERS, prepare: async () => ({ path: '/api/session' }) },
] as Array<Action | Action[]>).flat();

beforeAll(async () => {
  s = await startServer();
  admin = await signedIn(s, s.summary.adminAccount.email, s.summary.adminAccount.password);
  clients.set('admin', admin);
  logins.set('admin', s.summary.adminAccount);
  for (const role of ['officer', 'auditor'] as const) {
    const login = { email: `${role}@example.com`, password: await addAccount(admin, `${role}@example.com`, role) };
    logins.set(role, login);
    clients.set(role, await signedIn(s, login.email, login.password));
  }
  clients.set('anonymous', new AdminClient(s));
  knownSerial = await issued();
  knownRequest = await heldRequest();
});
afterAll(async () => {
  await s?.runtime.close();
});

describe('the role matrix', () => {
  const rows = ACTIONS.flatMap((action) => CALLERS.map((caller) => ({ action, caller })));
  it.each(rows.map((r) => [`${r.caller} ${r.action.allowed.includes(r.caller) ? 'may' : 'may not'} ${r.action.method} ${r.action.name}`, r] as const))('%s', async (_title, { action, caller }) => {
    const n = ++seq;
    const { path, body } = await action.prepare(n);
    // Signing out uses a second session of the same account, so the caller's own stays usable.
    const login = logins.get(caller);
    const client = action.name === 'sign out' && login ? await signedIn(s, login.email, login.password) : clients.get(caller)!;
    const res = await client.call(action.method, path, body);
    const allowed = action.allowed.includes(caller);
    if (allowed) {
      expect(res.status, res.text).toBeGreaterThanOrEqual(200);
      expect(res.status, res.text).toBeLessThan(300);
    } else {
      expect(res.status, res.text).toBe(caller === 'anonymous' ? 401 : 403);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      if (caller !== 'anonymous') expect(res.json.type).toBe('urn:estuary:problem:forbidden');
      await action.unchanged?.(n);
    }
  });

  it('covers every state-changing and reading endpoint of the API but the public ones (sign-in, certificate sign-in, the OpenAPI document)', async () => {
    const doc = (await new AdminClient(s).get('/api/openapi.json')).json;
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
      .filter((op) => !['POST /api/session', 'GET /api/openapi.json', 'GET /api/session/certificate', 'POST /api/session/certificate'].includes(op))
      .filter((op) => !op.startsWith('POST /api/session/')) // the second sign-in step: public, tried in mfa.test.ts
      // a caller's own certificates and password: self-service.test.ts covers each with its owner
      .filter((op) => !op.includes('/api/self/') || op === 'GET /api/self/certificates');
    const tried = new Set<string>();
    for (const a of ACTIONS) {
      const { path } = await a.prepare(++seq);
      const template = path.split('?')[0]!
        .replace(/^\/api\/profiles\/[^/]+$/, '/api/profiles/{label}')
        .replace(/^\/api\/profiles\/[^/]+\/(clone|removal)$/, '/api/profiles/{label}/$1')
        .replace(/^\/api\/cas\/[^/]+\/test$/, '/api/cas/{id}/test')
        .replace(/^\/api\/cas\/[^/]+\/certificate$/, '/api/cas/{id}/certificate')
        .replace(/^\/api\/cas\/pending\/[^/]+\/csr\.pem$/, '/api/cas/pending/{id}/csr.pem')
        .replace(/^\/api\/accounts\/[^/]+/, '/api/accounts/{email}')
        .replace(/^\/api\/requests\/\d+/, '/api/requests/{id}')
        .replace(/^\/api\/tokens\/\d+$/, '/api/tokens/{id}')
        .replace(/^\/api\/webhooks\/\d+/, '/api/webhooks/{id}')
        .replace(/^\/api\/webhook-deliveries\/\d+/, '/api/webhook-deliveries/{id}')
        .replace(/^\/api\/certificates\/[0-9a-f]+(?=\/|$)/, '/api/certificates/{serial}');
      tried.add(`${a.method} ${template}`);
    }
    expect([...tried].sort()).toEqual(documented.sort());
  });
});
