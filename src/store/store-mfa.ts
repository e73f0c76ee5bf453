/**
 * The Store's part for second factors (TOTP, RFC 6238) of Web RA accounts: sqlite-mfa.ts and
 * postgres-mfa.ts implement it; email case is ignored.
 */
import type { AdminRole } from '../ra/model.js';

/**
 * An account's second factor (TOTP, RFC 6238). The secret is stored as is because checking a
 * code needs it: it is as safe as the database (file mode 0600, PostgreSQL access rights).
 */
export interface AccountMfa {
  email: string;
  /** Base32 (RFC 4648). */
  secret: string;
  /** When the first code confirmed it; null while enrolment waits for that code. */
  confirmedAt: Date | null;
  /** The time step of the last accepted code: only later steps are accepted (no replay). */
  lastStep: number | null;
  /** Recovery codes not used yet. */
  recoveryCodesLeft: number;
  createdAt: Date;
}

/** A sign-in whose password was right, waiting for the second step (a code, or enrolment first). */
export interface SignInChallenge {
  /** SHA-256 (hex) of the value in the browser's cookie. */
  id: string;
  email: string;
  next: 'code' | 'enrol';
  createdAt: Date;
  expiresAt: Date;
}

export interface MfaStore {
  /** An account's second factor, confirmed or waiting for its first code. */
  getMfa(email: string): Promise<AccountMfa | undefined>;
  /** The emails (lower case) of the accounts with a confirmed second factor. */
  listMfaEnrolled(): Promise<string[]>;
  /** Start (or restart) enrolment with a new secret; false when the account already has a confirmed one. */
  beginMfaEnrolment(email: string, secret: string, at: Date): Promise<boolean>;
  /**
   * Confirm the enrolment waiting with `secret` (the step of its first code becomes the last one
   * used) and replace the recovery codes with these hashes, atomically; false when no enrolment
   * with that secret waits.
   */
  confirmMfa(email: string, secret: string, step: number, recoveryCodeHashes: string[], at: Date): Promise<boolean>;
  /** Accept a code's time step once: true (recorded) only when it is later than the last accepted step; atomic across instances. */
  useMfaStep(email: string, step: number): Promise<boolean>;
  /** Use a recovery code (by its hash) of a confirmed second factor: true the first time only. */
  useRecoveryCode(email: string, codeHash: string, at: Date): Promise<boolean>;
  /** Replace the recovery codes of a confirmed second factor with these hashes, atomically; false when it has none. */
  replaceRecoveryCodes(email: string, recoveryCodeHashes: string[]): Promise<boolean>;
  /** Remove the second factor and its recovery codes; false when there was none. */
  resetMfa(email: string): Promise<boolean>;
  /** The Web RA roles whose accounts must have a second factor. */
  getMfaRequiredRoles(): Promise<AdminRole[]>;
  setMfaRequiredRoles(roles: readonly AdminRole[]): Promise<void>;
  /** A password-checked sign-in waiting for its second step. */
  createSignInChallenge(challenge: SignInChallenge): Promise<void>;
  /** The challenge with this id, expired or not. */
  getSignInChallenge(id: string): Promise<SignInChallenge | undefined>;
  /** Remove a challenge (and every expired one): true for the one caller that removed it, so a sign-in completes once. */
  deleteSignInChallenge(id: string, at: Date): Promise<boolean>;
}
