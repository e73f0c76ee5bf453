/**
 * RFC 7030 §4.2.2 simplereenroll, beyond the identity checks: a renewal follows today's rules
 * (the account that obtained the certificate must still be allowed to enroll), and the
 * profile's renewal policy (once per certificate; only late in the certificate's life).
 */
import type { Store } from '../store/store.js';
import type { Account, CertificateRecord, Profile } from './model.js';
import { RaError } from './errors.js';

/** The account that obtained the certificate, if it may still enroll on this profile; else 403. */
export async function renewingAccount(store: Store, p: Profile, requester: string): Promise<Account> {
  const owner = await store.getAccount(requester);
  const refuse = (why: string): RaError => new RaError('forbidden', `simplereenroll: the account ${requester} that obtained the certificate being renewed ${why}`);
  if (!owner || owner.role !== 'est') throw refuse('no longer exists');
  if (owner.disabled) throw refuse('is disabled');
  if (p.allowedAccounts.length > 0 && !p.allowedAccounts.includes(owner.email)) throw refuse(`is no longer allowed on profile "${p.label}"`);
  if (owner.allowedProfiles.length > 0 && !owner.allowedProfiles.includes(p.label)) throw refuse(`is restricted to other profiles than "${p.label}"`);
  return owner;
}

/** The moment a certificate enters the last `percent`% of its life. */
export function renewalOpens(notBefore: Date, notAfter: Date, percent: number): Date {
  return new Date(notAfter.getTime() - ((notAfter.getTime() - notBefore.getTime()) * percent) / 100);
}

/** The profile's renewal policy; 403 with the reason when it refuses. */
export async function checkRenewalRules(store: Store, p: Profile, record: CertificateRecord, now: Date): Promise<void> {
  const { windowPercent, once } = p.renewal;
  if (windowPercent > 0) {
    const opens = renewalOpens(record.notBefore, record.notAfter, windowPercent);
    if (now < opens) {
      throw new RaError('forbidden', `simplereenroll: profile "${p.label}" renews a certificate only within the last ${windowPercent}% of its life; this one can be renewed from ${opens.toISOString()}`);
    }
  }
  if (once) {
    const successor = await store.findRenewal(record.serial);
    if (successor) throw new RaError('forbidden', `simplereenroll: the certificate has already been renewed (by ${successor}); profile "${p.label}" renews each certificate once: renew the newer one`);
  }
}
