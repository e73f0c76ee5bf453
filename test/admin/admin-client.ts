/**
 * A Web RA API client for tests: real HTTPS to the admin listener (verifying the server
 * against the test home's root CA), a session cookie and the CSRF token like a browser keeps.
 */
import { X509Certificate } from 'node:crypto';
import { normalizeSerial } from '../../src/pki/certificate.js';
import { certsFrom, csrBody, estRequest, type EstResponse } from '../helpers/est-http.js';
import type { TestServer } from '../helpers/home.js';
import { makeCsr, type TestCsr } from '../helpers/keys.js';

export interface ApiResponse extends EstResponse {
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface CallOptions {
  /** Send this CSRF token instead of the session's (null: none). */
  csrf?: string | null;
  headers?: Record<string, string>;
  /** Raw body text, sent as is (Content-Type application/json unless headers say otherwise). */
  raw?: string;
}

export class AdminClient {
  cookie: string | undefined;
  csrfToken: string | undefined;

  /** `localAddress`: connect from another loopback address (another client, for throttling). */
  constructor(readonly server: TestServer, readonly localAddress?: string) {}

  async call(method: string, path: string, body?: unknown, o: CallOptions = {}): Promise<ApiResponse> {
    const headers: Record<string, string> = { accept: 'application/json', ...o.headers };
    if (this.cookie) headers.cookie = this.cookie;
    const csrf = o.csrf === undefined ? this.csrfToken : o.csrf;
    if (csrf && method !== 'GET') headers['x-csrf-token'] = csrf;
    const text = o.raw ?? (body === undefined ? undefined : JSON.stringify(body));
    const res = await estRequest(`${this.server.adminBase}${path}`, {
      method, ca: this.server.rootPem, headers, ...(this.localAddress ? { localAddress: this.localAddress } : {}), ...(text !== undefined ? { body: text, contentType: headers['content-type'] ?? 'application/json' } : {}),
    });
    const type = String(res.headers['content-type'] ?? '');
    let json: unknown;
    if (/json/.test(type) && res.text) json = JSON.parse(res.text);
    return { ...res, json };
  }

  get = (path: string, o?: CallOptions) => this.call('GET', path, undefined, o);
  post = (path: string, body?: unknown, o?: CallOptions) => this.call('POST', path, body, o);
  put = (path: string, body?: unknown, o?: CallOptions) => this.call('PUT', path, body, o);
  patch = (path: string, body?: unknown, o?: CallOptions) => this.call('PATCH', path, body, o);
  delete = (path: string, body?: unknown, o?: CallOptions) => this.call('DELETE', path, body, o);

  /** Sign in; keeps the cookie and CSRF token on success. */
  async signIn(email: string, password: string): Promise<ApiResponse> {
    const res = await this.post('/api/session', { email, password });
    if (res.status === 200) {
      const setCookie = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
      this.cookie = setCookie.map((c) => c.split(';')[0]!).find((c) => c.startsWith('estuary_session='));
      this.csrfToken = res.json.csrfToken;
    }
    return res;
  }
}

/** A signed-in client, failing the test when sign-in does not succeed. */
export async function signedIn(server: TestServer, email: string, password: string): Promise<AdminClient> {
  const client = new AdminClient(server);
  const res = await client.signIn(email, password);
  if (res.status !== 200) throw new Error(`sign-in of ${email} failed: ${res.status} ${res.text}`);
  return client;
}

/** Creates an account through the API as the given admin; returns its password. */
export async function addAccount(admin: AdminClient, email: string, role: string, password = `pw-${role}-${Math.random().toString(36).slice(2)}`): Promise<string> {
  const res = await admin.post('/api/accounts', { email, role, password });
  if (res.status !== 201) throw new Error(`account ${email}: ${res.status} ${res.text}`);
  return password;
}

export interface Enrolled {
  status: number;
  text: string;
  /** Canonical serial of the issued certificate (200 only). */
  serial: string | undefined;
  csr: TestCsr;
}

/** simpleenroll over EST with HTTP Basic (the home's EST account unless given); `csr` lets a test re-send. */
export async function enroll(s: TestServer, o: { cn?: string; label?: string; basic?: { user: string; password: string }; csr?: TestCsr } = {}): Promise<Enrolled> {
  const csr = o.csr ?? (await makeCsr({ name: `CN=${o.cn ?? 'admin-test'}` }));
  const basic = o.basic ?? { user: s.summary.estAccount.email, password: s.summary.estAccount.password };
  const path = o.label ? `/${o.label}/simpleenroll` : '/simpleenroll';
  const res = await estRequest(s.base + path, { ca: s.rootPem, basic, body: csrBody(csr.der), contentType: 'application/pkcs10' });
  const serial = res.status === 200 ? normalizeSerial(new X509Certificate(certsFrom(res)[0]!).serialNumber) : undefined;
  return { status: res.status, text: res.text, serial, csr };
}
