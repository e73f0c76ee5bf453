/**
 * The PostgreSQL side of API tokens (store.ts, api-tokens-migration.ts): one statement per call.
 * Nothing caches tokens, so no change is announced.
 */
import type { QueryResultRow } from 'pg';
import type { AdminRole } from '../ra/model.js';
import type { ApiToken, NewApiToken } from './store.js';

/** Runs one statement with the store's error contract; `conflict` words a uniqueness violation. */
export type TokenQuery = <R extends QueryResultRow>(what: string, text: string, values: unknown[], conflict?: string) => Promise<{ rows: R[]; rowCount: number }>;

interface TokenRow {
  id: number; name: string; secret_hash: string; hint: string; role: string; created_by: string;
  created_at: Date; expires_at: Date; last_used_at: Date | null; revoked_at: Date | null; revoked_by: string | null;
}

const toToken = (r: TokenRow): ApiToken => ({
  id: r.id, name: r.name, secretHash: r.secret_hash, hint: r.hint, role: r.role as AdminRole, createdBy: r.created_by,
  createdAt: r.created_at, expiresAt: r.expires_at, lastUsedAt: r.last_used_at, revokedAt: r.revoked_at, revokedBy: r.revoked_by,
});

export class PostgresApiTokens {
  constructor(private readonly query: TokenQuery) {}

  async create(t: NewApiToken): Promise<ApiToken> {
    const { rows } = await this.query<TokenRow>('createApiToken', `INSERT INTO api_tokens (name, secret_hash, hint, role, created_by, created_at, expires_at)
      VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`, [t.name, t.secretHash, t.hint, t.role, t.createdBy, t.createdAt, t.expiresAt], `a token named ${t.name} already exists`);
    return toToken(rows[0]!);
  }

  async find(secretHash: string): Promise<ApiToken | undefined> {
    const { rows } = await this.query<TokenRow>('findApiToken', 'SELECT * FROM api_tokens WHERE secret_hash = $1', [secretHash]);
    return rows[0] && toToken(rows[0]);
  }

  async get(id: number): Promise<ApiToken | undefined> {
    const { rows } = await this.query<TokenRow>('getApiToken', 'SELECT * FROM api_tokens WHERE id = $1', [id]);
    return rows[0] && toToken(rows[0]);
  }

  async list(): Promise<ApiToken[]> {
    const { rows } = await this.query<TokenRow>('listApiTokens', 'SELECT * FROM api_tokens ORDER BY id DESC', []);
    return rows.map(toToken);
  }

  async touch(id: number, at: Date): Promise<boolean> {
    const { rowCount } = await this.query('touchApiToken', `UPDATE api_tokens SET last_used_at = GREATEST(last_used_at, $2) WHERE id = $1`, [id, at]);
    return rowCount > 0;
  }

  async revoke(id: number, by: string, at: Date): Promise<boolean> {
    const { rowCount } = await this.query('revokeApiToken', 'UPDATE api_tokens SET revoked_at = $3, revoked_by = $2 WHERE id = $1 AND revoked_at IS NULL', [id, by, at]);
    return rowCount > 0;
  }
}
