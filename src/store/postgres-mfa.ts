/**
 * The PostgreSQL side of Web RA second factors (store.ts: getMfa … deleteSignInChallenge). Each
 * method is one statement, so its own transaction: confirming an enrolment and storing its
 * recovery codes commit together, and the replay check (useMfaStep) is one conditional UPDATE,
 * which concurrent instances serialise on the row. Nothing here is cached, so no change is told.
 */
import { ADMIN_ROLES, type AdminRole } from '../ra/model.js';
import type { Query } from './postgres-shared.js';
import type { AccountMfa, SignInChallenge } from './store.js';

interface MfaRow {
  email: string;
  secret: string;
  confirmed_at: Date | null;
  last_step: string | null;
  created_at: Date;
  codes_left: number;
}

interface ChallengeRow {
  id: string;
  email: string;
  next: 'code' | 'enrol';
  created_at: Date;
  expires_at: Date;
}

export class PostgresMfa {
  constructor(private readonly query: Query) {}

  async getMfa(email: string): Promise<AccountMfa | undefined> {
    const { rows } = await this.query<MfaRow>('getMfa', `SELECT m.*, (SELECT COUNT(*)::int FROM mfa_recovery_codes c
      WHERE c.email = m.email AND c.used_at IS NULL) AS codes_left FROM account_mfa m WHERE m.email = $1`, [email.toLowerCase()]);
    const r = rows[0];
    return r && {
      email: r.email, secret: r.secret, confirmedAt: r.confirmed_at, lastStep: r.last_step === null ? null : Number(r.last_step),
      recoveryCodesLeft: r.codes_left, createdAt: r.created_at,
    };
  }

  async listMfaEnrolled(): Promise<string[]> {
    const { rows } = await this.query<{ email: string }>('listMfaEnrolled', 'SELECT email FROM account_mfa WHERE confirmed_at IS NOT NULL ORDER BY email', []);
    return rows.map((r) => r.email);
  }

  async beginMfaEnrolment(email: string, secret: string, at: Date): Promise<boolean> {
    const { rowCount } = await this.query('beginMfaEnrolment', `INSERT INTO account_mfa (email, secret, confirmed_at, last_step, created_at)
      VALUES ($1, $2, NULL, NULL, $3) ON CONFLICT (email) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at
      WHERE account_mfa.confirmed_at IS NULL`, [email.toLowerCase(), secret, at]);
    return rowCount > 0;
  }

  async confirmMfa(email: string, secret: string, step: number, hashes: string[], at: Date): Promise<boolean> {
    const { rows } = await this.query<{ n: number }>('confirmMfa', `WITH u AS (
        UPDATE account_mfa SET confirmed_at = $4, last_step = $3 WHERE email = $1 AND secret = $2 AND confirmed_at IS NULL RETURNING email
      ), d AS (DELETE FROM mfa_recovery_codes c USING u WHERE c.email = u.email),
      i AS (INSERT INTO mfa_recovery_codes (email, code_hash, used_at) SELECT u.email, h, NULL FROM u, unnest($5::text[]) AS h)
      SELECT COUNT(*)::int AS n FROM u`, [email.toLowerCase(), secret, step, at, hashes]);
    return rows[0]!.n > 0;
  }

  async useMfaStep(email: string, step: number): Promise<boolean> {
    const { rowCount } = await this.query('useMfaStep', `UPDATE account_mfa SET last_step = $2
      WHERE email = $1 AND confirmed_at IS NOT NULL AND (last_step IS NULL OR last_step < $2)`, [email.toLowerCase(), step]);
    return rowCount > 0;
  }

  async useRecoveryCode(email: string, hash: string, at: Date): Promise<boolean> {
    const { rowCount } = await this.query('useRecoveryCode', `UPDATE mfa_recovery_codes SET used_at = $3
      WHERE email = $1 AND code_hash = $2 AND used_at IS NULL
      AND EXISTS (SELECT 1 FROM account_mfa m WHERE m.email = $1 AND m.confirmed_at IS NOT NULL)`, [email.toLowerCase(), hash, at]);
    return rowCount > 0;
  }

  async replaceRecoveryCodes(email: string, hashes: string[]): Promise<boolean> {
    const { rows } = await this.query<{ n: number }>('replaceRecoveryCodes', `WITH m AS (
        SELECT email FROM account_mfa WHERE email = $1 AND confirmed_at IS NOT NULL FOR UPDATE
      ), d AS (DELETE FROM mfa_recovery_codes c USING m WHERE c.email = m.email),
      i AS (INSERT INTO mfa_recovery_codes (email, code_hash, used_at) SELECT m.email, h, NULL FROM m, unnest($2::text[]) AS h)
      SELECT COUNT(*)::int AS n FROM m`, [email.toLowerCase(), hashes]);
    return rows[0]!.n > 0;
  }

  async resetMfa(email: string): Promise<boolean> {
    const { rowCount } = await this.query('resetMfa', `WITH c AS (DELETE FROM mfa_recovery_codes WHERE email = $1)
      DELETE FROM account_mfa WHERE email = $1`, [email.toLowerCase()]);
    return rowCount > 0;
  }

  async getMfaRequiredRoles(): Promise<AdminRole[]> {
    const { rows } = await this.query<{ role: string }>('getMfaRequiredRoles', 'SELECT role FROM mfa_required_roles', []);
    const set = new Set(rows.map((r) => r.role));
    return ADMIN_ROLES.filter((r) => set.has(r));
  }

  async setMfaRequiredRoles(roles: readonly AdminRole[]): Promise<void> {
    const list = [...new Set(roles)];
    await this.query('setMfaRequiredRoles', `WITH d AS (DELETE FROM mfa_required_roles WHERE role <> ALL($1::text[]))
      INSERT INTO mfa_required_roles (role) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING`, [list]);
  }

  async createSignInChallenge(c: SignInChallenge): Promise<void> {
    await this.query('createSignInChallenge', `INSERT INTO sign_in_challenges (id, email, next, created_at, expires_at)
      VALUES ($1, $2, $3, $4, $5)`, [c.id, c.email.toLowerCase(), c.next, c.createdAt, c.expiresAt]);
  }

  async getSignInChallenge(id: string): Promise<SignInChallenge | undefined> {
    const { rows } = await this.query<ChallengeRow>('getSignInChallenge', 'SELECT * FROM sign_in_challenges WHERE id = $1', [id]);
    const r = rows[0];
    return r && { id: r.id, email: r.email, next: r.next, createdAt: r.created_at, expiresAt: r.expires_at };
  }

  async deleteSignInChallenge(id: string, at: Date): Promise<boolean> {
    const { rows } = await this.query<{ n: number }>('deleteSignInChallenge', `WITH d AS (DELETE FROM sign_in_challenges WHERE id = $1 RETURNING id),
      p AS (DELETE FROM sign_in_challenges WHERE expires_at <= $2 AND id <> $1)
      SELECT COUNT(*)::int AS n FROM d`, [id, at]);
    return rows[0]!.n > 0;
  }
}
