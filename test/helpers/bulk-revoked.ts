/** Many revoked certificates written straight into a store's SQLite file in one transaction (fast). */
import Database from 'better-sqlite3';

export interface BulkRevoked {
  ca: string;
  count: number;
  /** Serial i is this prefix followed by i in hex, 32 hex digits in all. */
  prefix?: string;
  revokedAt?: Date;
  notAfter?: Date;
}

/** Returns the serials written (lower-case hex, as the store keeps them). */
export function insertRevoked(dbPath: string, o: BulkRevoked): string[] {
  const db = new Database(dbPath);
  db.pragma('busy_timeout = 10000');
  const prefix = o.prefix ?? '4b';
  const at = (o.revokedAt ?? new Date('2026-01-01T00:00:00Z')).toISOString();
  const notAfter = (o.notAfter ?? new Date('2030-01-01T00:00:00Z')).toISOString();
  const insert = db.prepare(`INSERT INTO certificates (serial, profile, ca, subject, sans, not_before, not_after, der, requester,
    renews, status, revoked_at, revocation_reason, created_at)
    VALUES (?, 'bulk', ?, 'CN=bulk', '[]', '2025-01-01T00:00:00.000Z', ?, x'3000', 'bulk', NULL, 'revoked', ?, ?, ?)`);
  const reasons = ['keyCompromise', 'superseded', 'cessationOfOperation', 'unspecified'];
  const serials: string[] = [];
  db.transaction(() => {
    for (let i = 0; i < o.count; i++) {
      const serial = prefix + i.toString(16).padStart(32 - prefix.length, '0');
      insert.run(serial, o.ca, notAfter, at, reasons[i % reasons.length], at);
      serials.push(serial);
    }
  })();
  db.close();
  return serials;
}
