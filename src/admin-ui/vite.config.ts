/**
 * Builds the Web RA single-page UI into dist/admin-ui/ (served by src/admin/ at `/`).
 * Everything is bundled: no request leaves the server at run time, and the output runs under
 * a Content-Security-Policy of `default-src 'self'` (no inline scripts or styles).
 */
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

declare const process: { env: Record<string, string | undefined> };

const root = decodeURIComponent(new URL('.', import.meta.url).pathname);

/** `npm run dev:ui` serves the sources and passes /api to a running Web RA (its self-signed certificate accepted). */
const apiTarget = process.env.ESTUARY_ADMIN_URL ?? 'https://127.0.0.1:8444';

export default defineConfig({
  root,
  base: '/',
  plugins: [preact()],
  server: {
    proxy: { '/api': { target: apiTarget, secure: false, changeOrigin: true } },
  },
  build: {
    outDir: '../../dist/admin-ui',
    emptyOutDir: true,
    // the polyfill would be inlined into index.html; every supported browser has modulepreload
    modulePreload: { polyfill: false },
    // keep small assets as files: data: URLs would need a wider CSP
    assetsInlineLimit: 0,
    sourcemap: false,
    target: 'es2022',
  },
});
