/** Shared plumbing of the `estuary` commands: the home directory, the store, output. */
import { resolve } from 'node:path';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';
import { loadConfig, type Config } from './config.js';

export interface HomeOption {
  home?: string;
}

/** --home, else $ESTUARY_HOME, else ./data. */
export function homeDir(opts: HomeOption): string {
  return resolve(opts.home ?? process.env.ESTUARY_HOME ?? 'data');
}

/** A user-facing failure: printed without a stack, exit code 2 (1 is left for crashes). */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
    this.name = 'CliError';
  }
}

export async function withStore<T>(opts: HomeOption, fn: (store: Store, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig(homeDir(opts));
  const store = await openStore(config.database);
  try {
    return await fn(store, config);
  } finally {
    await store.close();
  }
}

/** A comma-separated option value as a list, blanks dropped. */
export function splitList(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter(Boolean);
}

export function print(line = ''): void {
  process.stdout.write(line + '\n');
}

/** One `key: value` line of a detail view: lists joined, objects as JSON, absent as "-". */
export function printField(key: string, value: unknown): void {
  if (Array.isArray(value)) print(`${key}: ${value.join(', ') || '(none)'}`);
  else if (typeof value === 'object' && value !== null) print(`${key}: ${JSON.stringify(value)}`);
  else print(`${key}: ${String(value ?? '-')}`);
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Rows as aligned columns. */
export function printTable(headers: string[], rows: string[][]): void {
  const widths = headers.map((h, i) => rows.reduce((w, r) => Math.max(w, (r[i] ?? '').length), h.length));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  print(line(headers));
  for (const r of rows) print(line(r));
}
