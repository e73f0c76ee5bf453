/**
 * The PostgreSQL store's part of a profile's and an account's life (store.ts: deleteProfile,
 * retireProfile, deleteAccount): each one statement that also announces the change (pg_notify) to
 * the other instances' caches.
 */
import type { SharedContext } from './postgres-shared.js';
import type { ProfileDeletion } from './store.js';

export class PostgresLifecycle {
  constructor(private readonly c: SharedContext) {}

  /** The check (nothing names the profile) and the delete are one statement. */
  async deleteProfile(label: string): Promise<ProfileDeletion> {
    const { rows } = await this.c.query<{ present: boolean; deleted: number; notified: number }>('deleteProfile', `WITH d AS (DELETE FROM profiles WHERE label = $1
        AND NOT EXISTS (SELECT 1 FROM certificates WHERE profile = $1) AND NOT EXISTS (SELECT 1 FROM pending_requests WHERE profile = $1) RETURNING label),
      n AS (SELECT ${this.c.notify(`jsonb_build_object('kind', 'profile', 'label', d.label)`)} FROM d)
      SELECT EXISTS (SELECT 1 FROM profiles WHERE label = $1) AS present, (SELECT COUNT(*) FROM d)::int AS deleted, (SELECT COUNT(*) FROM n)::int AS notified`, [label]);
    const r = rows[0]!;
    if (!r.present) return 'missing';
    if (r.deleted === 0) return 'in-use';
    this.c.emit({ kind: 'profile', label });
    return 'deleted';
  }

  async retireProfile(label: string, at: Date): Promise<boolean> {
    const { rowCount } = await this.c.query('retireProfile', `WITH u AS (UPDATE profiles SET retired_at = $2, enabled = false, updated_at = $2
        WHERE label = $1 AND retired_at IS NULL RETURNING label)
      SELECT ${this.c.notify(`jsonb_build_object('kind', 'profile', 'label', u.label)`)} FROM u`, [label, at]);
    if (rowCount > 0) this.c.emit({ kind: 'profile', label });
    return rowCount > 0;
  }

  /** Deletes the account, then its Web RA sessions (with `deleteSessions`, which announces each). */
  async deleteAccount(email: string, deleteSessions: (email: string) => Promise<number>): Promise<boolean> {
    const key = email.toLowerCase();
    const { rowCount } = await this.c.query('deleteAccount', `WITH d AS (DELETE FROM accounts WHERE email = $1 RETURNING email)
      SELECT ${this.c.notify(`jsonb_build_object('kind', 'account', 'email', d.email)`)} FROM d`, [key]);
    if (rowCount === 0) return false;
    this.c.emit({ kind: 'account', email: key });
    await deleteSessions(key);
    return true;
  }
}
