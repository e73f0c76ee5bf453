/**
 * The single-page UI, served from its build output (dist/admin-ui/): files as they are, with
 * long caching for Vite's content-hashed assets and none for index.html, and index.html for
 * every other GET outside /api so client-side routes survive a reload. Without a build, a
 * plain page says so. Nothing is fetched from outside the server.
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
    if (path === '/' || path === '/index.html' || !root) return sendIndex(reply);
    const file = resolveUnder(root, path);
    const body = file ? await fileAt(file) : undefined;
    if (body) {
      reply.header('cache-control', path.startsWith(HASHED_PREFIX) ? IMMUTABLE : 'no-cache');
      return reply.type(TYPES[extname(file!).toLowerCase()] ?? 'application/octet-stream').send(body);
    }
    // A missing asset is a 404, not the page: a browser must not run HTML as a script.
    // (Client-side routes may hold dots, e.g. a profile label: only asset-like names are files.)
    if (path.startsWith(HASHED_PREFIX) || TYPES[extname(path).toLowerCase()]) throw problem.notFound(`no file at ${path}`);
    return sendIndex(reply);
  };

  app.get('/', handler);
  app.get('/*', handler);
}
