/**
 * A configuration reference in Markdown, generated from a schema: one table row per setting
 * (dotted name, type and bounds, default, description with its environment override). The README
 * holds it between markers; `npm run docs:config` rewrites them (src/cli/config-docs.ts) and
 * test/unit/config-reference.test.ts fails while they are stale.
 */
import type { TSchema } from '@sinclair/typebox';

type Node = Record<string, unknown>;

const escape = (s: string): string => s.replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const code = (v: unknown): string => '`' + (typeof v === 'string' ? v : JSON.stringify(v)).replace(/`/g, "'") + '`';

function typeOf(s: Node): string {
  if (Array.isArray(s.enum)) return (s.enum as unknown[]).map(code).join(', ');
  if (Array.isArray(s.anyOf)) return (s.anyOf as Node[]).map(typeOf).join(' or ');
  switch (s.type) {
    case 'integer': {
      const [min, max] = [s.minimum, s.maximum];
      if (min !== undefined && max !== undefined) return `integer ${min}–${max}`;
      if (min !== undefined) return `integer ≥ ${min}`;
      return 'integer';
    }
    case 'number':
      return s.minimum !== undefined ? `number ≥ ${s.minimum}` : 'number';
    case 'boolean':
      return 'true or false';
    case 'string':
      return s.pattern !== undefined && s.pattern !== '\\S' ? `string (${code(s.pattern)})` : 'string';
    case 'array': {
      const items = (s.items ?? {}) as Node;
      return `list of ${items.type === 'string' || items.type === undefined ? 'strings' : typeOf(items)}`;
    }
    case 'object':
      return 'mapping';
  }
  return 'any';
}

function defaultOf(s: Node): string {
  if (!('default' in s)) return '';
  const d = s.default;
  if (typeof d === 'object' && d !== null && Object.keys(d).length === 0) return '';
  return code(d);
}

function describeRow(s: Node): string {
  const parts = [typeof s.description === 'string' ? s.description : ''];
  if (typeof s.envOverride === 'string') parts.push(`env \`${s.envOverride}\` overrides`);
  if (s.example !== undefined) parts.push(`e.g. ${code(s.example)}`);
  return parts.filter(Boolean).map((p, i) => (i === 0 || p.startsWith('env') ? escape(p) : p)).join('; ');
}

interface Row {
  name: string;
  type: string;
  def: string;
  description: string;
}

function rows(schema: Node, prefix: string, out: Row[], ownRow = true): void {
  const properties = schema.properties as Record<string, Node> | undefined;
  const pattern = schema.patternProperties as Record<string, Node> | undefined;
  if (prefix !== '' && ownRow) out.push({ name: prefix, type: properties || pattern ? 'section' : typeOf(schema), def: defaultOf(schema), description: describeRow(schema) });
  if (properties) {
    for (const [key, sub] of Object.entries(properties)) {
      const name = prefix === '' ? key : `${prefix}.${key}`;
      const items = sub.items as Node | undefined;
      if (sub.type === 'object' && (sub.properties || sub.patternProperties)) rows(sub, name, out);
      else if (sub.type === 'array' && items?.properties) {
        out.push({ name, type: 'list', def: '', description: describeRow(sub) });
        rows(items, `${name}[]`, out, false);
      } else out.push({ name, type: typeOf(sub), def: defaultOf(sub), description: describeRow(sub) });
    }
  }
  if (pattern) {
    for (const sub of Object.values(pattern)) rows(sub, `${prefix}.<id>`, out);
  }
}

/** The Markdown table of every setting of `schema`. */
export function configReference(schema: TSchema): string {
  const out: Row[] = [];
  rows(schema as unknown as Node, '', out);
  const lines = ['| setting | type | default | what it does |', '|---|---|---|---|'];
  for (const r of out) lines.push(`| \`${r.name}\` | ${r.type === 'section' ? '' : r.type} | ${r.def} | ${r.description} |`);
  return lines.join('\n') + '\n';
}

/** The markers a generated block stands between in a Markdown file. */
export function markers(name: string): { start: string; end: string } {
  return { start: `<!-- generated: ${name} (npm run docs:config) -->`, end: `<!-- end generated: ${name} -->` };
}

/** `text` with the block `name` replaced by `content`; throws when the markers are missing. */
export function replaceBlock(text: string, name: string, content: string): string {
  const { start, end } = markers(name);
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`the markers of ${name} are missing: ${start} … ${end}`);
  return text.slice(0, i + start.length) + '\n' + content + text.slice(j);
}

/** The block `name` as it stands in `text`, or undefined. */
export function readBlock(text: string, name: string): string | undefined {
  const { start, end } = markers(name);
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  return i < 0 || j < i ? undefined : text.slice(i + start.length + 1, j);
}
