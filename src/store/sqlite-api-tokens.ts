/**
 * The SQLite side of API tokens (store.ts, api-tokens-migration.ts): one statement per call on
 * the store's own connection. Nothing caches tokens, so no change is signalled.
 */
import type Database from 'better-sqlite3';
import type { AdminRole } from '../ra/model.js';
import { iso } from './sqlite-rows.js';
import type { ApiToken, NewApiToken } from './store.js';

interface TokenRow {
  id: number;
  name: string;
  secret_hash: string;
  hint: string;
  role: string;
  created_by: string;
  created_at: string;
  expires_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
  revoked_by: string | null;
}

const date = (text: string | null): Date | null => (text === null ? null : new Date(text));

const toToken = (r: TokenRow): ApiToken => ({
  id: r.id, name: r.name, secretHash: r.secret_hash, hint: r.hint, role: r.role as AdminRole, createdBy: r.created_by,
  createdAt: new Date(r.created_at), expiresAt: new Date(r.expires_at), lastUsedAt: date(r.last_used_at), revokedAt: date(r.revoked_at), revokedBy: r.revoked_by,
});

export class SqliteApiTokens {
  private readonly s;

  constructor(db: Database.Database) {
    const p = <R = unknown>(sql: string) => db.prepare<Record<string, unknown>, R>(sql);
    this.s = {
      insert: p<TokenRow>(`INSERT INTO api_tokens (name, secret_hash, hint, role, created_by, created_at, expires_at)
        VALUES (@name, @secret_hash, @hint, @role, @created_by, @created_at, @expires_at) RETURNING *`),
      byHash: p<TokenRow>('SELECT * FROM api_tokens WHERE secret_hash = @hash'),
      byId: p<TokenRow>('SELECT * FROM api_tokens WHERE id = @id'),
      list: p<TokenRow>('SELECT * FROM api_tokens ORDER BY id DESC'),
      touch: p(`UPDATE api_tokens SET last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < @at THEN @at ELSE last_used_at END WHERE id = @id`),
      revoke: p('UPDATE api_tokens SET revoked_at = @at, revoked_by = @by WHERE id = @id AND revoked_at IS NULL'),
    };
  }

  create(t: NewApiToken): ApiToken {
    return toToken(this.s.insert.get({
      name: t.name, secret_hash: t.secretHash, hint: t.hint, role: t.role, created_by: t.createdBy, created_at: iso(t.createdAt), expires_at: iso(t.expiresAt),
    })!);
  }

  find(secretHash: string): ApiToken | undefined {
    const row = this.s.byHash.get({ hash: secretHash });
    return row && toToken(row);
  }

  get(id: number): ApiToken | undefined {
    const row = this.s.byId.get({ id });
    return row && toToken(row);
  }

  list(): ApiToken[] {
    return this.s.list.all({}).map(toToken);
  }

  touch(id: number, at: Date): boolean {
    return this.s.touch.run({ id, at: iso(at) }).changes > 0;
  }

  revoke(id: number, by: string, at: Date): boolean {
    return this.s.revoke.run({ id, by, at: iso(at) }).changes > 0;
  }
}
