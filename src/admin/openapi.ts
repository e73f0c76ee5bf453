/**
 * /api/openapi.json: an OpenAPI 3.1 document built from the route table itself (the same
 * schema objects fastify validates with), so the description cannot drift from the API.
 * Schemas marked with a name (schemas.ts) become components and are referenced with $ref.
 */
import { ADMIN_ROLES } from '../ra/model.js';
import { SESSION_COOKIE } from './guard.js';
import { isStateChanging, type ApiRoute } from './route.js';
import { schemaName } from './schemas.js';

type Json = Record<string, unknown>;

class Components {
  readonly schemas: Record<string, unknown> = {};

  /** A deep copy of the schema with every named sub-schema replaced by a $ref to its component. */
  use(schema: unknown): unknown {
    if (Array.isArray(schema)) return schema.map((s) => this.use(s));
    if (typeof schema !== 'object' || schema === null) return schema;
    const name = schemaName(schema);
    if (!name) return this.expand(schema);
    if (!(name in this.schemas)) this.schemas[name] = this.expand(schema);
    return { $ref: `#/components/schemas/${name}` };
  }

  private expand(schema: object): Json {
    return Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, this.use(v)]));
  }
}

const openApiPath = (url: string): string => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

function parameters(route: ApiRoute, components: Components): Json[] {
  const out: Json[] = [];
  for (const [where, schema] of [['path', route.schema.params], ['query', route.schema.querystring]] as const) {
    if (!schema) continue;
    const s = schema as { properties?: Record<string, Json>; required?: string[] };
    for (const [name, prop] of Object.entries(s.properties ?? {})) {
      const { description, ...rest } = prop;
      out.push({
        name, in: where, required: where === 'path' || (s.required ?? []).includes(name),
        ...(description ? { description } : {}), schema: components.use(rest),
      });
    }
  }
  return out;
}

function operation(route: ApiRoute, components: Components): Json {
  const roles = route.access === 'public' ? [] : route.access === 'signed-in' ? ADMIN_ROLES : route.access === 'account' ? [...ADMIN_ROLES, 'est'] : route.access;
  // Either scheme: the session cookie (with the CSRF token on state changes) or an API token; /api/session is for sessions only.
  const cookie = isStateChanging(route.method) ? { sessionCookie: [], csrfToken: [] } : { sessionCookie: [] };
  const sessionOnly = route.url === '/api/session' || route.url.startsWith('/api/session/');
  const security = route.access === 'public' ? [] : sessionOnly ? [cookie] : [cookie, { bearerToken: [] }];
  const responses = Object.fromEntries(Object.entries(route.responses).map(([code, r]) => [code, {
    description: r.description,
    ...(code === '429' ? { headers: { 'Retry-After': { description: 'seconds until sign-in is possible again', schema: { type: 'integer' } } } } : {}),
    ...(code === '401' && !sessionOnly ? { headers: { 'WWW-Authenticate': { description: 'for an API token: Bearer realm="estuary", error="invalid_token" (RFC 6750 §3)', schema: { type: 'string' } } } } : {}),
    ...(r.schema ? { content: { [r.contentType ?? 'application/json']: { schema: components.use(r.schema) } } } : {}),
  }]));
  return {
    operationId: route.operationId,
    tags: [route.tag],
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    'x-roles': roles,
    security,
    parameters: parameters(route, components),
    ...(route.schema.body ? { requestBody: { required: ((route.schema.body as { required?: string[] }).required ?? []).length > 0, content: { 'application/json': { schema: components.use(route.schema.body) } } } } : {}),
    responses,
  };
}

export function buildOpenApi(routes: readonly ApiRoute[], version: string): Json {
  const components = new Components();
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    const path = (paths[openApiPath(route.url)] ??= {});
    path[route.method.toLowerCase()] = operation(route, components);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Estuary Web RA API',
      version,
      description: 'The JSON API of the Estuary Web RA (the web UI uses it too). Sign in with POST /api/session; '
        + 'send the returned csrfToken as X-CSRF-Token on every POST, PUT, PATCH and DELETE. Errors are application/problem+json (RFC 9457). '
        + 'x-roles lists the roles that may call an operation: admin (everything), officer (approve, reject, revoke, read), auditor (read); est: an EST account signed in for self-service (its own certificates and password). '
        + 'Scripts use an API token instead (POST /api/tokens, or estuary token create): Authorization: Bearer est_..., no cookie and no CSRF token; '
        + 'the token\'s role applies as above, and an expired, revoked or unknown token is a 401 with WWW-Authenticate: Bearer.',
    },
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    servers: [{ url: '/' }],
    tags: [...new Set(routes.map((r) => r.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas: components.schemas,
      securitySchemes: {
        sessionCookie: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: 'set by POST /api/session' },
        csrfToken: { type: 'apiKey', in: 'header', name: 'X-CSRF-Token', description: 'the csrfToken of the session' },
        bearerToken: { type: 'http', scheme: 'bearer', bearerFormat: 'est_ followed by 43 base64url characters', description: 'an API token (RFC 6750), with the role it was created with; no CSRF token needed' },
      },
    },
  };
}
