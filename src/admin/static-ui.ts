/**
 * The single-page UI, served from its build output (dist/admin-ui/): files as they are, with
 * long caching for Vite's content-hashed assets and none for index.html, and index.html for the
 * UI's own client-side routes so they survive a reload. Every other path is a 404 in text
 * (never the page with 200: a load balancer probing /healthz here must not read it as healthy);
 * unknown /api paths are problem+json 404s. Without a build, a plain page says so. Nothing is
 * fetched from outside the server.
 */
import { readFile, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { problem } from './problem.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.txt': 'text/plain; charset=utf-8',
};

/** Vite writes content-hashed files under assets/: their URL changes whenever they do. */
const HASHED_PREFIX = '/assets/';
const IMMUTABLE = 'public, max-age=31536000, immutable';

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Estuary Web RA</title></head>
<body><h1>Estuary Web RA</h1>
<p>The user interface is not built. Run <code>npm run build</code>, then reload this page.</p>
<p>The JSON API is available: see <a href="/api/openapi.json">/api/openapi.json</a>.</p>
</body></html>
`;

async function fileAt(path: string): Promise<Buffer | undefined> {
  try {
    if (!(await stat(path)).isFile()) return undefined;
    return await readFile(path);
  } catch {
    return undefined;
  }
}

/** The file under root that a URL path names, or undefined when it would leave root or is hidden. */
export function resolveUnder(root: string, urlPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.split('/').some((seg) => seg === '..' || seg.startsWith('.'))) return undefined;
  const full = resolve(root, `.${decoded}`);
  return full === root || full.startsWith(root + sep) ? full : undefined;
}

/**
 * The paths the UI's router shows a screen for (Route in src/admin-ui/app.tsx; `:x` is one
 * segment, matched like the router's match()). Keep the two lists together.
 */
export const UI_ROUTES: readonly string[] = [
  '/', '/profiles', '/profiles/:label', '/accounts', '/requests', '/requests/:id', '/certificates', '/certificates/:serial', '/audit', '/cas', '/password', '/account', '/tokens', '/webhooks',
];

const UI_PATTERNS = UI_ROUTES.map((r) => r.split('/').filter(Boolean));

/** True when the UI's router has a screen at this URL path (still percent-encoded). */
export function isUiRoute(urlPath: string): boolean {
  const segments = urlPath.split('/').filter(Boolean);
  return UI_PATTERNS.some((p) => p.length === segments.length && p.every((seg, i) => seg.startsWith(':') || seg === segments[i]));
}

function notFoundText(reply: FastifyReply, path: string): FastifyReply {
  return reply.code(404).header('cache-control', 'no-store').type('text/plain; charset=utf-8').send(`no page or file at ${path}\n`);
}

type Handler = (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>;

export function registerUi(app: { get(path: string, handler: Handler): unknown }, uiDir: string | undefined): void {
  const root = uiDir ? resolve(uiDir) : undefined;

  const sendIndex = async (reply: FastifyReply): Promise<FastifyReply> => {
    const index = root ? await fileAt(join(root, 'index.html')) : undefined;
    reply.header('cache-control', 'no-cache').type('text/html; charset=utf-8');
    return reply.send(index ?? NOT_BUILT);
  };

  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const path = request.url.split('?')[0]!;
    if (path === '/api' || path.startsWith('/api/')) throw problem.notFound(`no API resource at ${path}`);
    if (path === '/' || path === '/index.html') return sendIndex(reply);
    const file = root ? resolveUnder(root, path) : undefined;
    const body = file ? await fileAt(file) : undefined;
    if (body) {
      reply.header('cache-control', path.startsWith(HASHED_PREFIX) ? IMMUTABLE : 'no-cache');
      return reply.type(TYPES[extname(file!).toLowerCase()] ?? 'application/octet-stream').send(body);
    }
    // A missing asset is a 404, not the page: a browser must not run HTML as a script. Client-side
    // routes may hold dots (a profile label like iot.v2): they are known by the router's patterns.
    if (path.startsWith(HASHED_PREFIX) || !isUiRoute(path)) return notFoundText(reply, path);
    return sendIndex(reply);
  };

  app.get('/', handler);
  app.get('/*', handler);
}
