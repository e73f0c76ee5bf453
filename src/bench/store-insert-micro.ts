#!/usr/bin/env node
/**
 * `node dist/bench/store-insert-micro.js [--count N] [--batch N]`: CPU per certificate insert, as the
 * writer thread does it (INSERT_CERTIFICATE_SQL in group transactions, synchronous=FULL), on a fresh
 * file at each schema version from `--from` (default: the one before the latest) to the latest: what
 * each migration's indexes and triggers add to every issuance.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { SQLITE_MIGRATIONS } from '../store/sqlite-migrations.js';
import { INSERT_CERTIFICATE_SQL } from '../store/sqlite-writer-protocol.js';

const { values } = parseArgs({ options: { count: { type: 'string' }, batch: { type: 'string' }, from: { type: 'string' }, rounds: { type: 'string' } } });
const count = Number(values.count ?? 20_000);
const batch = Number(values.batch ?? 16);
const rounds = Number(values.rounds ?? 2);
const latest = SQLITE_MIGRATIONS.length;
const from = Number(values.from ?? latest - 1);
const der = randomBytes(450);
const dir = mkdtempSync(join(tmpdir(), 'estuary-insert-micro-'));
try {
  for (let round = 1; round <= rounds; round++) {
    for (let version = from; version <= latest; version++) {
      const db = new Database(join(dir, `r${round}-v${version}.db`));
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      for (const m of SQLITE_MIGRATIONS.slice(0, version)) db.exec(m.sql);
      const insert = db.prepare(INSERT_CERTIFICATE_SQL);
      const start = Date.now();
      let i = 0;
      const cpu = process.cpuUsage();
      while (i < count) {
        db.transaction(() => {
          for (let k = 0; k < batch && i < count; k++, i++) {
            const host = `sensor-${String(i).padStart(7, '0')}.site-${i % 400}.example.com`;
            insert.run({
              serial: randomBytes(16).toString('hex'), profile: 'default', ca: 'default', subject: `CN=${host}, O=Plant North, C=DE`,
              sans: JSON.stringify([`DNS:${host}`, `IP:10.1.${i % 256}.7`]), not_before: new Date(start).toISOString(),
              not_after: new Date(start + 90 * 86_400_000).toISOString(), der, requester: 'est@estuary.local', renews: null, now: new Date(start + i).toISOString(),
            });
          }
        })();
      }
      const used = process.cpuUsage(cpu);
      process.stdout.write(`round ${round}, schema ${version} (${SQLITE_MIGRATIONS[version - 1]!.name}): ${((used.user + used.system) / count).toFixed(1)} µs CPU per insert\n`);
      db.close();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
