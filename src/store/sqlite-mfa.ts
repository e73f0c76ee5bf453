/**
 * The SQLite side of Web RA second factors (store.ts: getMfa … deleteSignInChallenge). Each write
 * is one statement or one IMMEDIATE transaction on this connection, so two processes on the same
 * file never interleave a read-modify-write (the replay check in useMfaStep is one UPDATE). Nothing
 * here is cached, so no change is announced.
 */
import type Database from 'better-sqlite3';
import { ADMIN_ROLES, type AdminRole } from '../ra/model.js';
import { iso } from './sqlite-rows.js';
import type { AccountMfa, SignInChallenge } from './store.js';

interface MfaRow {
  email: string;
  secret: string;
  confirmed_at: string | null;
  last_step: number | null;
  created_at: string;
  codes_left: number;
}

interface ChallengeRow {
  id: string;
  email: string;
  next: 'code' | 'enrol';
  created_at: string;
  expires_at: string;
}

const toMfa = (r: MfaRow): AccountMfa => ({
  email: r.email, secret: r.secret, confirmedAt: r.confirmed_at ? new Date(r.confirmed_at) : null,
  lastStep: r.last_step, recoveryCodesLeft: r.codes_left, createdAt: new Date(r.created_at),
});

export class SqliteMfa {
  private readonly s;
  private readonly confirm: (email: string, secret: string, step: number, hashes: string[], at: string) => boolean;
  private readonly reset: (email: string) => boolean;
  private readonly replaceCodes: (email: string, hashes: string[]) => boolean;
  private readonly setRoles: (roles: readonly AdminRole[]) => void;

  constructor(db: Database.Database) {
    const p = <R = unknown>(sql: string) => db.prepare<Record<string, unknown>, R>(sql);
    this.s = {
      get: p<MfaRow>(`SELECT m.*, (SELECT COUNT(*) FROM mfa_recovery_codes c WHERE c.email = m.email AND c.used_at IS NULL) AS codes_left
        FROM account_mfa m WHERE m.email = @email`),
      enrolled: db.prepare<[], string>('SELECT email FROM account_mfa WHERE confirmed_at IS NOT NULL ORDER BY email').pluck(),
      begin: p(`INSERT INTO account_mfa (email, secret, confirmed_at, last_step, created_at) VALUES (@email, @secret, NULL, NULL, @at)
        ON CONFLICT (email) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at WHERE account_mfa.confirmed_at IS NULL`),
      confirm: p(`UPDATE account_mfa SET confirmed_at = @at, last_step = @step
        WHERE email = @email AND secret = @secret AND confirmed_at IS NULL`),
      dropCodes: p('DELETE FROM mfa_recovery_codes WHERE email = @email'),
      addCode: p('INSERT INTO mfa_recovery_codes (email, code_hash, used_at) VALUES (@email, @hash, NULL)'),
      useStep: p(`UPDATE account_mfa SET last_step = @step
        WHERE email = @email AND confirmed_at IS NOT NULL AND (last_step IS NULL OR last_step < @step)`),
      useCode: p(`UPDATE mfa_recovery_codes SET used_at = @at WHERE email = @email AND code_hash = @hash AND used_at IS NULL
        AND EXISTS (SELECT 1 FROM account_mfa m WHERE m.email = @email AND m.confirmed_at IS NOT NULL)`),
      drop: p('DELETE FROM account_mfa WHERE email = @email'),
      confirmed: p<{ n: number }>('SELECT COUNT(*) AS n FROM account_mfa WHERE email = @email AND confirmed_at IS NOT NULL'),
      roles: db.prepare<[], string>('SELECT role FROM mfa_required_roles').pluck(),
      clearRoles: db.prepare('DELETE FROM mfa_required_roles'),
      addRole: p('INSERT INTO mfa_required_roles (role) VALUES (@role)'),
      createChallenge: p(`INSERT INTO sign_in_challenges (id, email, next, created_at, expires_at)
        VALUES (@id, @email, @next, @created_at, @expires_at)`),
      getChallenge: p<ChallengeRow>('SELECT * FROM sign_in_challenges WHERE id = @id'),
      deleteChallenge: p('DELETE FROM sign_in_challenges WHERE id = @id'),
      purgeChallenges: p('DELETE FROM sign_in_challenges WHERE expires_at <= @at'),
    };
    this.confirm = db.transaction((email: string, secret: string, step: number, hashes: string[], at: string): boolean => {
      if (this.s.confirm.run({ email, secret, step, at }).changes === 0) return false;
      this.s.dropCodes.run({ email });
      for (const hash of hashes) this.s.addCode.run({ email, hash });
      return true;
    }).immediate;
    this.replaceCodes = db.transaction((email: string, hashes: string[]): boolean => {
      if (this.s.confirmed.get({ email })!.n === 0) return false;
      this.s.dropCodes.run({ email });
      for (const hash of hashes) this.s.addCode.run({ email, hash });
      return true;
    }).immediate;
    this.reset = db.transaction((email: string): boolean => {
      this.s.dropCodes.run({ email });
      return this.s.drop.run({ email }).changes > 0;
    }).immediate;
    this.setRoles = db.transaction((roles: readonly AdminRole[]): void => {
      this.s.clearRoles.run();
      for (const role of new Set(roles)) this.s.addRole.run({ role });
    }).immediate;
  }

  getMfa(email: string): AccountMfa | undefined {
    const row = this.s.get.get({ email: email.toLowerCase() });
    return row && toMfa(row);
  }

  listMfaEnrolled(): string[] {
    return this.s.enrolled.all();
  }

  beginMfaEnrolment(email: string, secret: string, at: Date): boolean {
    return this.s.begin.run({ email: email.toLowerCase(), secret, at: iso(at) }).changes > 0;
  }

  confirmMfa(email: string, secret: string, step: number, hashes: string[], at: Date): boolean {
    return this.confirm(email.toLowerCase(), secret, step, hashes, iso(at));
  }

  useMfaStep(email: string, step: number): boolean {
    return this.s.useStep.run({ email: email.toLowerCase(), step }).changes > 0;
  }

  useRecoveryCode(email: string, hash: string, at: Date): boolean {
    return this.s.useCode.run({ email: email.toLowerCase(), hash, at: iso(at) }).changes > 0;
  }

  replaceRecoveryCodes(email: string, hashes: string[]): boolean {
    return this.replaceCodes(email.toLowerCase(), hashes);
  }

  resetMfa(email: string): boolean {
    return this.reset(email.toLowerCase());
  }

  getMfaRequiredRoles(): AdminRole[] {
    const set = new Set(this.s.roles.all());
    return ADMIN_ROLES.filter((r) => set.has(r));
  }

  setMfaRequiredRoles(roles: readonly AdminRole[]): void {
    this.setRoles(roles);
  }

  createSignInChallenge(c: SignInChallenge): void {
    this.s.createChallenge.run({ id: c.id, email: c.email.toLowerCase(), next: c.next, created_at: iso(c.createdAt), expires_at: iso(c.expiresAt) });
  }

  getSignInChallenge(id: string): SignInChallenge | undefined {
    const r = this.s.getChallenge.get({ id });
    return r && { id: r.id, email: r.email, next: r.next, createdAt: new Date(r.created_at), expiresAt: new Date(r.expires_at) };
  }

  deleteSignInChallenge(id: string, at: Date): boolean {
    const removed = this.s.deleteChallenge.run({ id }).changes > 0;
    this.s.purgeChallenges.run({ at: iso(at) });
    return removed;
  }
}
