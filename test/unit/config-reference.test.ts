/** The configuration references in README.md are the ones the schemas generate (npm run docs:config). */
import { readFileSync } from 'node:fs';
import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { CONFIG_REFERENCES, staleConfigReferences, withConfigReferences } from '../../src/cli/config-docs.js';
import { configReference, readBlock, replaceBlock } from '../../src/schema/reference.js';

const README = new URL('../../README.md', import.meta.url);

describe('README configuration reference', () => {
  it('is current: run `npm run docs:config` when this fails', () => {
    const stale = staleConfigReferences(readFileSync(README, 'utf8'));
    expect(stale, `README.md: the generated reference of ${stale.join(', ')} is stale: run "npm run docs:config" and commit README.md`).toEqual([]);
  });

  it('holds a row for every setting of estuary.yaml, with its bounds, default and environment override', () => {
    const block = readBlock(readFileSync(README, 'utf8'), 'estuary.yaml')!;
    expect(block).toContain('| `crl.validityHours` | integer 1–744 | `24` |');
    expect(block).toContain('| `keyFilePermissions` | `refuse`, `warn` | `refuse` |');
    expect(block).toMatch(/\| `est\.listen` \| string \| `127\.0\.0\.1:8443` \| .*env `ESTUARY_EST_LISTEN` overrides \|/);
    expect(CONFIG_REFERENCES.map((r) => r.name)).toContain('estuary.yaml');
  });

  it('rewrites only between the markers, and refuses a file without them', () => {
    const schema = Type.Object({ a: Type.Integer({ minimum: 1, maximum: 3, default: 2, description: 'x | y <z>' }) });
    const text = 'before\n<!-- generated: t (npm run docs:config) -->\nold\n<!-- end generated: t -->\nafter\n';
    const out = replaceBlock(text, 't', configReference(schema));
    expect(out).toBe('before\n<!-- generated: t (npm run docs:config) -->\n| setting | type | default | what it does |\n|---|---|---|---|\n| `a` | integer 1–3 | `2` | x \\| y &lt;z&gt; |\n<!-- end generated: t -->\nafter\n');
    expect(readBlock(out, 't')).toBe(configReference(schema));
    expect(() => replaceBlock('no markers', 't', '')).toThrow(/markers of t are missing/);
    expect(() => withConfigReferences('no markers')).toThrow(/markers of estuary\.yaml are missing/);
  });
});
