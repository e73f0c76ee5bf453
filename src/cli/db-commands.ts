/**
 * `estuary db backup`: a consistent copy of a live SQLite database (SQLite's online backup API:
 * the copy is one point in time even while the server commits), checked before it is reported.
 */
import { chmodSync, closeSync, existsSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { Command } from 'commander';
import { loadConfig } from './config.js';
import { CliError, homeDir, print, printJson, type HomeOption } from './context.js';

/** The tables whose row counts a backup (and a migration) reports. */
export const DATA_TABLES = ['accounts', 'profiles', 'certificates', 'pending_requests', 'audit_events'] as const;

export interface BackupSummary {
  file: string;
  bytes: number;
  rows: Record<string, number>;
}

/** Copies the database at `source` to `target` (written 0600, then renamed into place) and checks the copy. */
export async function backupSqlite(source: string, target: string): Promise<BackupSummary> {
  if (!existsSync(source)) throw new CliError(`no database at ${source}`);
  if (existsSync(target)) throw new CliError(`${target} exists; give a new file name`);
  const partial = `${target}.partial`;
  rmSync(partial, { force: true });
  closeSync(openSync(partial, 'wx', 0o600)); // the copy holds password hashes: never world-readable
  const db = new Database(source, { readonly: true, fileMustExist: true, timeout: 5000 });
  try {
    await db.backup(partial);
  } catch (err) {
    rmSync(partial, { force: true });
    throw new CliError(`backup of ${source} failed: ${(err as Error).message}`);
  } finally {
    db.close();
  }
  const copy = new Database(partial, { readonly: true, fileMustExist: true });
  let rows: Record<string, number>;
  try {
    const check = copy.pragma('integrity_check', { simple: true });
    if (check !== 'ok') throw new CliError(`the copy failed its integrity check: ${String(check)}`);
    rows = Object.fromEntries(DATA_TABLES.map((t) => [t, (copy.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n]));
  } catch (err) {
    copy.close();
    rmSync(partial, { force: true });
    throw err;
  }
  copy.close();
  renameSync(partial, target);
  chmodSync(target, 0o600);
  return { file: target, bytes: statSync(target).size, rows };
}

export function registerDbCommands(program: Command): void {
  const db = program.command('db').description('the database: consistent backups');

  db.command('backup <file>')
    .description('copy the live SQLite database to <file> (consistent while the server runs; mode 0600)')
    .option('--json', 'print a JSON object')
    .option('--home <dir>', 'data directory')
    .action(async (file: string, opts: HomeOption & { json?: boolean }) => {
      const config = loadConfig(homeDir(opts));
      if (config.database.type !== 'sqlite') throw new CliError(`database.type is ${String(config.database.type)}: back it up with that database's own tools (pg_dump)`);
      const summary = await backupSqlite(config.database.path, resolve(file));
      if (opts.json) return printJson(summary);
      print(`Backup written to ${summary.file} (${summary.bytes} bytes), integrity check ok`);
      for (const [t, n] of Object.entries(summary.rows)) print(`  ${t}: ${n}`);
    });
}
