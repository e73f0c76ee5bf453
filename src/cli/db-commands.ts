/**
 * `estuary db backup`: a consistent copy of a live SQLite database (SQLite's online backup API:
 * the copy is one point in time even while the server commits), checked before it is reported.
 * `estuary db migrate`: the SQLite database copied into PostgreSQL (db-migrate.ts).
 */
import { chmodSync, closeSync, existsSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { Command } from 'commander';
import { loadConfig } from './config.js';
import { CliError, homeDir, print, printJson, type HomeOption } from './context.js';
import { migrateSqliteToPostgres } from './db-migrate.js';
import { readSecret } from '../ca/connectors/config-fields.js';
import { postgresUrl } from '../store/database-config.js';

/** The tables whose row counts a backup (and a migration) reports. */
/** Webhook endpoints come last: copied before the certificates, their triggers would queue an event for every certificate copied. */
export const DATA_TABLES = ['accounts', 'profiles', 'certificates', 'pending_requests', 'audit_events', 'api_tokens', 'webhook_endpoints'] as const;

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
  const db = program.command('db').description('the database: consistent backups, moving from SQLite to PostgreSQL');

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

  db.command('migrate')
    .description('copy every table of a home\'s SQLite database into an empty PostgreSQL database and compare the row counts (one transaction: all or nothing)')
    .option('--from <home>', 'the home whose SQLite database is copied (default --home, $ESTUARY_HOME or ./data)')
    .requiredOption('--to <url>', 'the PostgreSQL database, postgres://user@host:port/database (must hold no Estuary data)')
    .option('--password-file <file>', 'a file holding the PostgreSQL password (when it is not in the URL)')
    .option('--password-env <name>', 'an environment variable holding the PostgreSQL password')
    .option('--json', 'print a JSON object')
    .option('--home <dir>', 'data directory')
    .action(async (opts: HomeOption & { from?: string; to: string; passwordFile?: string; passwordEnv?: string; json?: boolean }) => {
      const config = loadConfig(homeDir({ ...opts, ...(opts.from ? { home: opts.from } : {}) }));
      if (config.database.type !== 'sqlite') throw new CliError(`--from: that home's database is ${config.database.type}, not SQLite`);
      if (opts.passwordFile !== undefined && opts.passwordEnv !== undefined) throw new CliError('give one of --password-file and --password-env');
      const to = postgresUrl(opts.to, '--to'); // a postgres:// URL naming a host and a database
      let password: string | undefined;
      try {
        password = opts.passwordFile !== undefined || opts.passwordEnv !== undefined
          ? readSecret({ file: opts.passwordFile, env: opts.passwordEnv }, '--password-file', '--password-env', process.env) : undefined;
      } catch (err) {
        throw new CliError((err as Error).message);
      }
      const summary = await migrateSqliteToPostgres(config.database.path, to, {
        ...(password !== undefined ? { password } : {}),
        ...(opts.json ? {} : { progress: (table: string, done: number, total: number) => { if (done % 50_000 === 0) print(`  ${table}: ${done} of ${total}`); } }),
      });
      if (opts.json) return printJson(summary);
      print(`Copied ${summary.from} into ${summary.to}; row counts match:`);
      for (const [t, n] of Object.entries(summary.rows)) print(`  ${t}: ${n}`);
      print('Point estuary.yaml at it (database: { type: postgres, url: ... }) or set ESTUARY_DATABASE_URL, then start the server.');
    });
}
