/** The Web RA serves index.html for exactly the paths the UI's router has a screen for (static-ui.ts UI_ROUTES). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isUiRoute, UI_ROUTES } from '../../src/admin/static-ui.js';

describe('UI_ROUTES', () => {
  it('lists every path the router in src/admin-ui/app.tsx shows a screen for, and no other', () => {
    const app = readFileSync(join(process.cwd(), 'src', 'admin-ui', 'app.tsx'), 'utf8');
    const route = app.slice(app.indexOf('function Route('), app.indexOf('function isActive('));
    const exact = [...route.matchAll(/path === '([^']+)'/g)].map((m) => m[1]!).filter((p) => p !== '');
    const patterns = [...route.matchAll(/match\('([^']+)'/g)].map((m) => m[1]!);
    expect(exact.length + patterns.length).toBeGreaterThan(8);
    const instanceOf = (path: string, pattern: string): boolean => {
      const a = path.split('/').filter(Boolean);
      const b = pattern.split('/').filter(Boolean);
      return a.length === b.length && b.every((seg, i) => seg.startsWith(':') || seg === a[i]);
    };
    // '/profiles/new' is an exact path of the router and an instance of its '/profiles/:label'
    const expected = [...exact.filter((p) => !patterns.some((pat) => instanceOf(p, pat))), ...patterns];
    expect([...UI_ROUTES].sort()).toEqual(expected.sort());
    for (const p of exact) expect(isUiRoute(p), p).toBe(true);
  });

  it('matches one segment per parameter, and nothing for probe paths', () => {
    expect(isUiRoute('/profiles/iot.v2')).toBe(true);
    expect(isUiRoute('/certificates/0a')).toBe(true);
    expect(isUiRoute('/certificates/0a/x')).toBe(false);
    for (const p of ['/healthz', '/readyz', '/metrics', '/.well-known/est/cacerts', '/favicon.ico']) expect(isUiRoute(p), p).toBe(false);
  });
});
