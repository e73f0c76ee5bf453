/**
 * Changing estuary.yaml from the CLI (`estuary ca add`): the new `cas.<id>` entry is spliced into
 * the file's text, so every other line (comments, their alignment, blank lines) stays byte for byte;
 * where the file's layout does not allow that (cas in flow style, or no cas block), the yaml
 * library's document model edits it, which keeps comments but not their columns. The result is
 * validated as a whole before it replaces the file.
 */
import { isDeepStrictEqual } from 'node:util';
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, isScalar, parseDocument, stringify, type Document } from 'yaml';
import { CONFIG_FILE, ConfigError, validateConfig } from './config.js';

/** The offset just past the end of the line holding offset `at - 1` (where a block node ends). */
function lineEnd(text: string, at: number): number {
  if (at > 0 && text[at - 1] === '\n') return at;
  const nl = text.indexOf('\n', at);
  return nl < 0 ? text.length : nl + 1;
}

function lineStart(text: string, at: number): number {
  return text.lastIndexOf('\n', at - 1) + 1;
}

/** `id:` and its settings as block YAML, indented to `column`. */
function renderEntry(id: string, settings: Record<string, unknown>, column: number): string {
  const pad = ' '.repeat(column);
  return stringify({ [id]: settings }, { indent: 2, lineWidth: 0 }).split('\n').filter((l) => l !== '').map((l) => pad + l + '\n').join('');
}

/** The text with `cas.<id>` set by a splice, or undefined when the layout is not a block mapping. */
function splice(text: string, doc: Document, id: string, settings: Record<string, unknown>): string | undefined {
  const cas = doc.get('cas', true);
  if (!isMap(cas) || cas.flow || cas.items.length === 0 || !cas.range) return undefined;
  const first = cas.items[0]!;
  if (!isScalar(first.key) || !first.key.range) return undefined;
  const column = first.key.range[0] - lineStart(text, first.key.range[0]);
  if (column === 0) return undefined;
  const existing = cas.items.find((p) => isScalar(p.key) && p.key.value === id);
  const last = cas.items[cas.items.length - 1]!;
  const valueEnd = (p: typeof last): number | undefined => (p.value && typeof p.value === 'object' && 'range' in p.value && p.value.range ? (p.value.range as number[])[2] : undefined);
  let prefix = text;
  let start: number;
  let end: number;
  if (existing) {
    if (!isScalar(existing.key) || !existing.key.range) return undefined;
    const ve = valueEnd(existing);
    if (ve === undefined) return undefined;
    start = lineStart(text, existing.key.range[0]);
    end = lineEnd(text, ve);
  } else {
    const ve = valueEnd(last);
    if (ve === undefined) return undefined;
    end = lineEnd(text, ve);
    if (end === text.length && !text.endsWith('\n')) {
      prefix = text + '\n';
      end = prefix.length;
    }
    start = end;
  }
  return prefix.slice(0, start) + renderEntry(id, settings, column) + prefix.slice(end);
}

/** Set (add or replace) `cas.<id>` to these settings; throws ConfigError when the result would not load. */
export function setCaConnector(home: string, id: string, settings: Record<string, unknown>): void {
  const file = join(home, CONFIG_FILE);
  const original = readFileSync(file, 'utf8');
  const doc = parseDocument(original);
  if (doc.errors.length > 0) throw new ConfigError(`${file}: ${doc.errors[0]!.message}`);
  const expected = parseDocument(original);
  expected.setIn(['cas', id], expected.createNode(settings));
  const want = expected.toJS() as unknown;
  // The splice only when it provably says the same as the document-model edit.
  const spliced = splice(original, doc, id, settings);
  const check = spliced === undefined ? undefined : parseDocument(spliced);
  const text = check && check.errors.length === 0 && isDeepStrictEqual(check.toJS(), want) ? spliced! : expected.toString();
  try {
    validateConfig(parseDocument(text).toJS(), home);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`${file} was not changed: ${err.message}`);
    throw err;
  }
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, text, { mode: statSync(file).mode & 0o777 });
  renameSync(temp, file);
}
