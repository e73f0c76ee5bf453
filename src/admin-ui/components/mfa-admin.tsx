/** The admin's side of two-step sign-in: the roles that require it, and resetting an account's second factor. */
import { useEffect, useState } from 'preact/hooks';
import { api, describeError } from '../api';
import { useLoad, useSubmit } from '../hooks';
import { announce } from '../status';
import type { Account, Role } from '../types';
import { Dialog, DialogActions } from './dialog';
import { CheckboxGroup, type SubmitEvent } from './fields';

const ROLE_OPTIONS: ReadonlyArray<{ value: Role; label: string }> = [
  { value: 'admin', label: 'Admins' },
  { value: 'officer', label: 'Officers' },
  { value: 'auditor', label: 'Auditors' },
];

/** Which operator roles must sign in with a second factor; admins change it, everyone sees it. */
export function MfaPolicyCard({ mayWrite }: { mayWrite: boolean }) {
  const { data, error, reload } = useLoad(() => api.get<{ requiredRoles: Role[] }>('/api/mfa/policy'), 'mfa-policy');
  const [roles, setRoles] = useState<Role[]>([]);
  useEffect(() => {
    if (data) setRoles(data.requiredRoles);
  }, [data]);
  const { busy, run } = useSubmit<string | undefined>(undefined, (e) => {
    announce(`Could not save the two-step sign-in policy: ${describeError(e)}`, 'error');
    return describeError(e);
  });
  const save = async (e: SubmitEvent) => {
    e.preventDefault();
    await run(async () => {
      const saved = await api.put<{ requiredRoles: Role[] }>('/api/mfa/policy', { requiredRoles: roles });
      announce(saved.requiredRoles.length ? `Two-step sign-in required for: ${saved.requiredRoles.join(', ')}` : 'Two-step sign-in is optional for every role');
      reload();
    });
  };
  if (error || !data) return null;
  const changed = roles.join() !== data.requiredRoles.join();
  return (
    <form class="card mfa-policy" onSubmit={save} data-testid="mfa-policy">
      <CheckboxGroup<Role>
        label="Two-step sign-in required for"
        name="requiredRoles"
        value={roles}
        onChange={setRoles}
        options={ROLE_OPTIONS}
        disabled={!mayWrite}
        hint="Accounts of these roles without a second factor set it up at their next sign-in before they can do anything else."
      />
      {mayWrite ? (
        <div class="form-actions">
          <button type="submit" class="secondary" disabled={busy || !changed} data-testid="mfa-policy-save">
            {busy ? 'Saving…' : 'Save'}
          </button>
        </div>
      ) : null}
    </form>
  );
}

export function MfaResetDialog({ account, onClose, onChanged }: { account: Account; onClose: () => void; onChanged: () => void }) {
  const { busy, error, run } = useSubmit<string | undefined>(undefined, describeError);
  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    await run(async () => {
      await api.del(`/api/accounts/${encodeURIComponent(account.email)}/mfa`);
      announce(`Second factor of ${account.email} reset`);
      onChanged();
      onClose();
    });
  };
  return (
    <Dialog title={`Reset the second factor of ${account.email}`} onClose={onClose} testId="mfa-reset-dialog">
      <form onSubmit={submit}>
        <p>
          Its authenticator secret and recovery codes are removed and its Web RA sessions end. It signs in with its password alone until it sets up
          two-step sign-in again (at once, at its next sign-in, if its role requires it).
        </p>
        {error ? (
          <p class="notice error" role="alert">
            {error}
          </p>
        ) : null}
        <DialogActions testId="mfa-reset-confirm" busy={busy} onCancel={onClose} class="primary danger">
          {busy ? 'Resetting…' : 'Reset second factor'}
        </DialogActions>
      </form>
    </Dialog>
  );
}
