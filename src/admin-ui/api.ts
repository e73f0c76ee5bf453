/**
 * The one way the UI talks to the server: same-origin JSON under /api, the session cookie,
 * and the session's CSRF token as X-CSRF-Token on every change. Errors are RFC 9457 problems.
 */
import type { FieldError, Session } from './types';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string | undefined,
    readonly fieldErrors: FieldError[],
    readonly retryAfterSeconds?: number,
    /** The problem type, e.g. urn:estuary:problem:csrf. */
    readonly type?: string,
  ) {
    super(detail ? `${title}: ${detail}` : title);
    this.name = 'ApiError';
  }
}

let csrfToken: string | undefined;
let onUnauthenticated: (() => void) | undefined;

/** Remember the signed-in session (its CSRF token) or forget it (null). */
export function setSession(session: Session | null): void {
  csrfToken = session?.csrfToken;
}

/** Called when the server answers 401 to anything but the sign-in itself. */
export function setUnauthenticatedHandler(handler: () => void): void {
  onUnauthenticated = handler;
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export async function request<T>(method: Method, path: string, body?: unknown): Promise<T> {
  try {
    return await send<T>(method, path, body);
  } catch (e) {
    // Signing in from another tab replaces the session cookie and with it the CSRF token:
    // fetch the current session's token once and repeat the change.
    if (!(e instanceof ApiError && e.type === 'urn:estuary:problem:csrf') || path === '/api/session') throw e;
    const session = await send<Session>('GET', '/api/session');
    csrfToken = session.csrfToken;
    return send<T>(method, path, body);
  }
}

async function send<T>(method: Method, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json, application/problem+json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'The server cannot be reached', 'Check the connection and try again.', []);
  }
  if (response.status === 401 && path !== '/api/session') onUnauthenticated?.();
  const text = await response.text();
  let data: unknown;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
  }
  if (!response.ok) throw problemError(response, data);
  return data as T;
}

function problemError(response: Response, data: unknown): ApiError {
  const p = (data && typeof data === 'object' ? data : {}) as { type?: unknown; title?: unknown; detail?: unknown; errors?: unknown };
  const title = typeof p.title === 'string' ? p.title : response.statusText || `HTTP ${response.status}`;
  const detail = typeof p.detail === 'string' ? p.detail : undefined;
  const errors = Array.isArray(p.errors)
    ? p.errors
        .filter((e): e is { field?: unknown; message?: unknown } => !!e && typeof e === 'object')
        .map((e) => ({ field: normalizeField(String(e.field ?? '')), message: String(e.message ?? 'invalid') }))
    : [];
  const retry = Number(response.headers.get('Retry-After'));
  return new ApiError(response.status, title, detail, errors, Number.isFinite(retry) && retry > 0 ? retry : undefined, typeof p.type === 'string' ? p.type : undefined);
}

/** "/namePolicy/dnsSuffixes/0", "body.validityDays" or "namePolicy.dnsSuffixes[0]" → "namePolicy.dnsSuffixes.0" */
export function normalizeField(field: string): string {
  return field
    .replace(/^body[./]?/, '')
    .replace(/\[(\w+)\]/g, '.$1')
    .replace(/\//g, '.')
    .replace(/^\.+|\.+$/g, '');
}

/** The errors for one field or anything under it ("keyAlgorithms" takes "keyAlgorithms.0.minBits"). */
export function errorsFor(errors: FieldError[], field: string): FieldError[] {
  return errors.filter((e) => e.field === field || e.field.startsWith(`${field}.`));
}

/** A message for a status line: field errors are shown by their fields, so keep this short. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 429 && error.retryAfterSeconds) return `${error.message} (try again in ${Math.ceil(error.retryAfterSeconds / 60)} min)`;
    return error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

export const api = {
  get: <T>(path: string) => request<T>('GET', path),
  post: <T>(path: string, body?: unknown) => request<T>('POST', path, body ?? {}),
  put: <T>(path: string, body: unknown) => request<T>('PUT', path, body),
  patch: <T>(path: string, body: unknown) => request<T>('PATCH', path, body),
  del: <T>(path: string) => request<T>('DELETE', path),
};

/** "?a=1&b=x" from the non-empty entries. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
