/**
 * Cloning a certification profile; removing a profile or an account, and what that does to the certificates behind
 * it, said once for the Web RA, the API and the CLI. A profile that never issued nor held a
 * request is deleted (its label is free again); one that did is **retired**: disabled for good,
 * kept so that its certificates stay valid, listed and revocable under their profile. An account
 * is deleted: the certificates it obtained stay; they no longer renew with its password.
 */
import type { Store } from '../store/store.js';
import type { Account, NewProfile, Profile } from './model.js';

export interface ProfileUse {
  certificates: number;
  /** Not revoked and not expired at the time asked. */
  validCertificates: number;
  /** Pending or approved and not yet collected. */
  openRequests: number;
  /** Requests of any status (they name the profile too). */
  requests: number;
}

export type ProfileRemoval =
  | { action: 'delete' | 'retire'; use: ProfileUse; consequence: string }
  | { action: 'refused'; use: ProfileUse; reason: string };

export async function profileUse(store: Store, label: string, now: Date): Promise<ProfileUse> {
  const [all, valid, pending, approved, requests] = await Promise.all([
    store.searchCertificates({ profile: label, limit: 1 }),
    store.searchCertificates({ profile: label, status: 'valid', now, limit: 1 }),
    store.countPendingRequests({ profile: label, status: 'pending' }),
    store.countPendingRequests({ profile: label, status: 'approved' }),
    store.countPendingRequests({ profile: label }),
  ]);
  return { certificates: all.total, validCertificates: valid.total, openRequests: pending + approved, requests };
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** For the audit log: "3 certificates (2 valid)". */
export const describeUse = (use: ProfileUse): string => `${plural(use.certificates, 'certificate')} (${use.validCertificates} valid)`;

/** What removing the profile would do, or why it cannot be removed. */
export function planProfileRemoval(p: Profile, use: ProfileUse, defaultLabel: string): ProfileRemoval {
  const refuse = (reason: string): ProfileRemoval => ({ action: 'refused', use, reason });
  if (p.label === defaultLabel) {
    return refuse(`"${p.label}" is the default profile (est.defaultProfile), served on the unlabeled EST path: make another profile the default first`);
  }
  if (p.retiredAt) return refuse(`profile "${p.label}" is already retired (${p.retiredAt.toISOString()})`);
  if (use.openRequests > 0) {
    return refuse(`profile "${p.label}" has ${plural(use.openRequests, 'request')} waiting (pending or approved, not yet collected): decide or let them expire first`);
  }
  if (use.certificates === 0 && use.requests === 0) {
    return {
      action: 'delete', use,
      consequence: `Profile "${p.label}" has issued no certificates: it is deleted, its EST URLs answer 404 and the label can be used again.`,
    };
  }
  return {
    action: 'retire', use,
    consequence: `Profile "${p.label}" has issued ${plural(use.certificates, 'certificate')} (${use.validCertificates} still valid), so it is retired, not deleted: `
      + 'it stops enrolling (its EST URLs answer 404, renewals included) and cannot be enabled again; '
      + 'its certificates stay valid, listed and revocable, and its label stays taken. Clone it to issue under new settings.',
  };
}

export type AccountRemoval = { action: 'delete'; consequence: string } | { action: 'refused'; reason: string };

/**
 * What deleting the account would do, or why it cannot be deleted; `actor`: who asks (an email, or
 * undefined for the CLI). Profiles that name the account in their allowed accounts keep it there
 * (taking it out of a list of one would open the profile to every EST account): the text says so.
 */
export function planAccountRemoval(a: Account, accounts: readonly Account[], actor: string | undefined, profiles: readonly Profile[] = []): AccountRemoval {
  if (actor !== undefined && a.email === actor.toLowerCase()) return { action: 'refused', reason: 'you cannot delete the account you are signed in with' };
  if (a.role === 'admin' && !accounts.some((o) => o.role === 'admin' && !o.disabled && o.email !== a.email)) {
    return { action: 'refused', reason: `${a.email} is the last enabled admin account: create or enable another admin first` };
  }
  const consequence = a.role === 'est'
    ? `EST account ${a.email} is deleted: it can no longer enroll or renew with its password. The certificates it obtained stay valid, listed and revocable; `
      + 'a renewal of one of them with HTTP Basic is refused (the account that obtained it no longer exists).'
      + namedIn(a.email, profiles)
    : `Web RA account ${a.email} (${a.role}) is deleted and signed out everywhere. What it did stays in the audit log; certificates it approved or revoked are unchanged.`;
  return { action: 'delete', consequence };
}

function namedIn(email: string, profiles: readonly Profile[]): string {
  const labels = profiles.filter((p) => p.allowedAccounts.includes(email)).map((p) => `"${p.label}"`);
  if (labels.length === 0) return '';
  return ` It stays named in the allowed accounts of profile${labels.length === 1 ? '' : 's'} ${labels.join(', ')}: an account made later with this email could use ${labels.length === 1 ? 'it' : 'them'}.`;
}

/**
 * Carry out a removal planned as `delete` or `retire`. A delete the store refuses because a
 * certificate or request came to name the profile since the plan retires it instead (the safer
 * of the two). `missing`: the profile is gone (or was retired) meanwhile.
 */
export async function removeProfile(store: Store, label: string, action: 'delete' | 'retire', at: Date): Promise<'deleted' | 'retired' | 'missing'> {
  if (action === 'delete') {
    const r = await store.deleteProfile(label);
    if (r !== 'in-use') return r;
  }
  return (await store.retireProfile(label, at)) ? 'retired' : 'missing';
}

/**
 * A new profile with every setting of `source` under a new label. It starts disabled unless
 * `enabled` says otherwise, so that it can be reviewed before EST clients can use it.
 */
export function cloneProfile(source: Profile, label: string, enabled = false): NewProfile {
  const { createdAt: _c, updatedAt: _u, retiredAt: _r, ...settings } = structuredClone(source);
  return { ...settings, label, enabled };
}
