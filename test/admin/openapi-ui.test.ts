/**
 * /api/openapi.json describes every route (built from the same schemas fastify validates with),
 * and the UI is served with long caching for hashed assets, a strict CSP and no framing.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES } from '../../src/admin/admin-server.js';
import { startServer, tempDir, type TestServer } from '../helpers/home.js';
import { AdminClient, signedIn } from './admin-client.js';

let s: TestServer;
let ui: string;
const INDEX = '<!doctype html><html><head><script type="module" src="/assets/app-3f9a1b2c.js"></script></head><body><div id="app"></div></body></html>';

beforeAll(async () => {
  ui = join(tempDir('estuary-ui-'), 'admin-ui');
  mkdirSync(join(ui, 'assets'), { recursive: true });
  writeFileSync(join(ui, 'index.html'), INDEX);
  writeFileSync(join(ui, 'assets', 'app-3f9a1b2c.js'), 'console.log("app");');
  writeFileSync(join(ui, 'assets', 'app-3f9a1b2c.css'), 'body{margin:0}');
  writeFileSync(join(ui, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  writeFileSync(join(ui, '.secret'), 'hidden');
  s = await startServer(undefined, {}, { admin: { uiDir: ui } });
});
afterAll(async () => {
  await s?.runtime.close();
});

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, { operationId: string; parameters: Array<{ name: string; in: string }>; requestBody?: { content: Record<string, { schema: unknown }> }; responses: Record<string, unknown>; security: unknown[]; 'x-roles': string[] }>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
};

describe('OpenAPI', () => {
  let doc: Doc;

  it('is served without signing in, as valid JSON, OpenAPI 3.1', async () => {
    const res = await new AdminClient(s).get('/api/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    doc = JSON.parse(res.text) as Doc;
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.components.securitySchemes).toMatchObject({
      sessionCookie: { type: 'apiKey', in: 'cookie', name: 'estuary_session' }, csrfToken: { type: 'apiKey', in: 'header', name: 'X-CSRF-Token' },
      bearerToken: { type: 'http', scheme: 'bearer' },
    });
  });

  it('has every route, once, with its path parameters, body schema and roles', () => {
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)).sort();
    const routes = API_ROUTES.map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}')}`).sort();
    expect(documented).toEqual(routes);
    for (const expected of [
      'POST /api/session', 'GET /api/session', 'DELETE /api/session', 'GET /api/dashboard', 'GET /api/cas', 'POST /api/cas/{id}/test', 'GET /api/profiles', 'GET /api/profiles/{label}',
      'POST /api/profiles', 'PUT /api/profiles/{label}', 'GET /api/accounts', 'POST /api/accounts', 'PATCH /api/accounts/{email}',
      'POST /api/accounts/{email}/password', 'POST /api/accounts/{email}/unlock', 'PUT /api/accounts/{email}/profiles', 'GET /api/requests', 'POST /api/requests/{id}/approve',
      'POST /api/requests/{id}/reject', 'GET /api/certificates', 'GET /api/certificates/{serial}', 'GET /api/certificates/{serial}/pem',
      'GET /api/certificates/{serial}/chain.pem', 'POST /api/certificates/{serial}/revoke', 'GET /api/audit', 'GET /api/openapi.json', 'GET /api/tokens', 'POST /api/tokens', 'DELETE /api/tokens/{id}',
    ]) expect(documented).toContain(expected);
    const ids = new Set<string>();
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        expect(ids.has(op.operationId), op.operationId).toBe(false);
        ids.add(op.operationId);
        const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
        expect(op.parameters.filter((p) => p.in === 'path').map((p) => p.name), `${method} ${path}`).toEqual(inPath);
        expect(Object.keys(op.responses).length).toBeGreaterThan(0);
        if (['post', 'put', 'patch'].includes(method) && !['/api/accounts/{email}/password', '/api/accounts/{email}/unlock', '/api/cas/{id}/test', '/api/self/certificates/{serial}/revoke', '/api/mfa', '/api/session/enrolment', '/api/certificates/{serial}/release', '/api/session/certificate', '/api/webhooks/{id}/test', '/api/webhook-deliveries/{id}/redeliver'].includes(path)) expect(op.requestBody, `${method} ${path}`).toBeDefined();
      }
    }
    expect(doc.paths['/api/profiles']!.post!['x-roles']).toEqual(['admin']);
    expect(doc.paths['/api/certificates/{serial}/revoke']!.post!['x-roles']).toEqual(['admin', 'officer']);
    expect(doc.paths['/api/audit']!.get!['x-roles']).toEqual(['admin', 'officer', 'auditor']);
    expect(doc.paths['/api/session']!.post!.security).toEqual([]);
    // either the cookie session (with the CSRF token on state changes) or an API token; the session API takes only the cookie
    expect(doc.paths['/api/profiles']!.post!.security).toEqual([{ sessionCookie: [], csrfToken: [] }, { bearerToken: [] }]);
    expect(doc.paths['/api/profiles']!.get!.security).toEqual([{ sessionCookie: [] }, { bearerToken: [] }]);
    expect(doc.paths['/api/session']!.delete!.security).toEqual([{ sessionCookie: [], csrfToken: [] }]);
    expect(doc.paths['/api/tokens']!.post!['x-roles']).toEqual(['admin']);
    expect(doc.paths['/api/tokens']!.get!.responses['401']).toMatchObject({ headers: { 'WWW-Authenticate': { schema: { type: 'string' } } } });
    const query = doc.paths['/api/certificates']!.get!.parameters.filter((p) => p.in === 'query').map((p) => p.name);
    expect(query).toEqual(['q', 'subject', 'san', 'serial', 'profile', 'status', 'order', 'expiresWithinDays', 'after', 'offset', 'limit']);
  });

  it('describes the same schemas the API validates with; every $ref resolves', () => {
    const text = JSON.stringify(doc);
    for (const m of text.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)) expect(doc.components.schemas, m[1]).toHaveProperty(m[1]!);
    const body = doc.paths['/api/profiles']!.post!.requestBody!.content['application/json']!.schema;
    expect(body).toEqual({ $ref: '#/components/schemas/ProfileCreate' });
    const create = doc.components.schemas.ProfileCreate as { additionalProperties: boolean; required: string[]; properties: Record<string, { $ref?: string; minimum?: number; maximum?: number }> };
    expect(create.additionalProperties).toBe(false);
    expect(create.required).toEqual(['label']);
    expect(create.properties.validityDays).toMatchObject({ minimum: 1, maximum: 3650 });
    expect(create.properties.namePolicy).toEqual({ $ref: '#/components/schemas/NamePolicy' });
    for (const name of ['Profile', 'Account', 'PendingRequest', 'Certificate', 'CertificateDetail', 'AuditEvent', 'Dashboard', 'Problem', 'Session', 'KeyAlgorithmRule']) {
      expect(doc.components.schemas, name).toHaveProperty(name);
    }
  });

  it('answers input the schema refuses with 400 problem+json naming the field', async () => {
    const admin = await signedIn(s, s.summary.adminAccount.email, s.summary.adminAccount.password);
    const cases: Array<[string, string, unknown, string]> = [
      ['POST', '/api/accounts', { email: 'x@example.com', role: 'est', colour: 'red' }, 'colour'],
      ['PATCH', '/api/accounts/est@estuary.local', { disabled: 'yes' }, 'disabled'],
      ['PUT', '/api/accounts/est@estuary.local/profiles', { profiles: 'default' }, 'profiles'],
      ['POST', '/api/certificates/ab/revoke', { reason: 1 }, 'reason'],
      ['POST', '/api/session', { email: 'a@b', password: 'x', remember: true }, 'remember'],
      ['PUT', '/api/profiles/default', { retryAfterSeconds: 1.5 }, 'retryAfterSeconds'],
    ];
    for (const [method, path, body, field] of cases) {
      const res = await admin.call(method, path, body);
      expect(res.status, `${method} ${path}`).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json.errors[0].field, `${method} ${path}`).toBe(field);
    }
    expect((await admin.get('/api/accounts/x@example.com')).status).toBe(404);
  });
});

describe('the UI', () => {
  const headersOf = async (path: string) => (await new AdminClient(s).get(path)).headers;

  it('serves index.html at / without caching, with a strict CSP and no framing', async () => {
    const res = await new AdminClient(s).get('/');
    expect(res.status).toBe(200);
    expect(res.text).toBe(INDEX);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.headers['content-security-policy']).toMatch(/^default-src 'self';/);
    expect(res.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  it('serves hashed assets for a year, immutable; other files without caching', async () => {
    const js = await new AdminClient(s).get('/assets/app-3f9a1b2c.js');
    expect(js.text).toBe('console.log("app");');
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect((await headersOf('/assets/app-3f9a1b2c.css'))['content-type']).toBe('text/css; charset=utf-8');
    const icon = await headersOf('/favicon.svg');
    expect(icon['content-type']).toBe('image/svg+xml');
    expect(icon['cache-control']).toBe('no-cache');
  });

  it('answers client-side routes with index.html, missing assets with 404, never files outside or hidden', async () => {
    for (const path of ['/certificates', '/profiles/iot.v2', '/requests?status=all']) {
      const res = await new AdminClient(s).get(path);
      expect(res.status, path).toBe(200);
      expect(res.text, path).toBe(INDEX);
    }
    expect((await new AdminClient(s).get('/assets/app-00000000.js')).status).toBe(404);
    expect((await new AdminClient(s).get('/missing.css')).status).toBe(404);
    for (const path of ['/.secret', '/%2e%2e/%2e%2e/etc/passwd', '/assets/..%2f..%2fetc%2fpasswd', '/%2e%2e%2fadmin-ui%2f.secret']) {
      const res = await new AdminClient(s).get(path);
      expect(res.text, path).not.toMatch(/hidden|root:/);
    }
  });

  it('answers probes and missing files with 404 in text, never with the page (a load balancer must not read 200)', async () => {
    for (const path of ['/healthz', '/readyz', '/livez', '/metrics', '/.well-known/est/cacerts', '/.well-known/security.txt', '/favicon.ico', '/robots.txt', '/missing.css', '/assets/app-00000000.js', '/wp-login.php', '/profiles/a/b', '/nothing-here']) {
      const res = await new AdminClient(s).get(path);
      expect(res.status, path).toBe(404);
      expect(res.headers['content-type'], path).toBe('text/plain; charset=utf-8');
      expect(res.text, path).toBe(`no page or file at ${path}\n`);
      expect(res.headers['cache-control'], path).toBe('no-store');
    }
    // every screen of the UI's router, dots in a label included
    for (const path of ['/', '/profiles', '/profiles/new', '/profiles/iot.v2', '/accounts', '/requests', '/certificates', '/certificates/0a1b2c', '/audit', '/cas', '/certificates?status=valid&expiresWithinDays=30']) {
      const res = await new AdminClient(s).get(path);
      expect(res.status, path).toBe(200);
      expect(res.text, path).toBe(INDEX);
    }
    for (const path of ['/api', '/api/healthz', '/api/nothing/here']) {
      const res = await new AdminClient(s).get(path);
      expect(res.status, path).toBe(404);
      expect(res.headers['content-type'], path).toMatch(/^application\/problem\+json/);
    }
  });

  it('keeps /api answers out of caches and unknown /api paths as problem+json 404', async () => {
    const res = await new AdminClient(s).get('/api/nothing-here');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect((await headersOf('/api/openapi.json'))['cache-control']).toBe('no-store');
    expect((await new AdminClient(s).post('/somewhere', {})).status).toBe(404);
  });

  it('says the UI is not built when dist/admin-ui has no index.html', async () => {
    rmSync(join(ui, 'index.html'));
    const res = await new AdminClient(s).get('/');
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/user interface is not built/);
    expect(res.text).toMatch(/npm run build/);
    expect(res.headers['content-security-policy']).toMatch(/^default-src 'self'/);
  });
});
