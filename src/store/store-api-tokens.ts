/** The Store's part for API tokens of the Web RA's JSON API (admin/api-tokens.ts): sqlite-api-tokens.ts and postgres-api-tokens.ts implement it. */
import type { AdminRole } from '../ra/model.js';

/** A stored API token: the secret itself is never stored, only its SHA-256 (hex). */
export interface ApiToken {
  id: number;
  /** Unique among the tokens not revoked; audit events name the token's caller `token:<name>`. */
  name: string;
  secretHash: string;
  /** The secret's first characters (e.g. `est_Ab3x`), to recognise a leaked token. */
  hint: string;
  role: AdminRole;
  /** The admin's email (Web RA), `token:<name>` (another token) or the CLI's actor. */
  createdBy: string;
  createdAt: Date;
  expiresAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  revokedBy: string | null;
}

export type NewApiToken = Omit<ApiToken, 'id' | 'lastUsedAt' | 'revokedAt' | 'revokedBy'>;

export interface ApiTokenStore {
  /** API tokens of the Web RA's JSON API (admin/api-tokens.ts). StoreConflictError when a token not revoked has the name. */
  createApiToken(token: NewApiToken): Promise<ApiToken>;
  /** The token whose secret has this SHA-256 (hex), revoked or expired or not. */
  findApiToken(secretHash: string): Promise<ApiToken | undefined>;
  getApiToken(id: number): Promise<ApiToken | undefined>;
  /** Every token, newest first. */
  listApiTokens(): Promise<ApiToken[]>;
  /** Record a use (lastUsedAt never moves back); false when no such token exists. */
  touchApiToken(id: number, at: Date): Promise<boolean>;
  /** Revoke a token not yet revoked; false when it does not exist or is already revoked. */
  revokeApiToken(id: number, by: string, at: Date): Promise<boolean>;
}
