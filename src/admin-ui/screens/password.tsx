/** Changing one's own password (every signed-in account; for an EST account also its devices' HTTP Basic password). */
import { useState } from 'preact/hooks';
import { ApiError, api, describeError } from '../api';
import { FormErrors, TextField, type SubmitEvent } from '../components/fields';
import { PageHeader } from '../components/page';
import { useSubmit } from '../hooks';
import { useSession } from '../session';
import { announce } from '../status';
import type { FieldError } from '../types';

export function PasswordScreen() {
  const session = useSession();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const { busy, error: errors, setError, run } = useSubmit<FieldError[]>([], (e) =>
    e instanceof ApiError && e.fieldErrors.length ? e.fieldErrors : [{ field: '', message: describeError(e) }],
  );
  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    if (next !== again) {
      setError([{ field: 'again', message: 'the two new passwords differ' }]);
      return;
    }
    await run(async () => {
      await api.post('/api/self/password', { currentPassword: current, newPassword: next });
      setCurrent('');
      setNext('');
      setAgain('');
      announce('Password changed; your other sessions have ended');
    });
  };
  return (
    <>
      <PageHeader
        title="My password"
        lead={session.role === 'est' ? 'This is also the password your devices send with HTTP Basic on EST: change it there too.' : 'Your other Web RA sessions end when it changes.'}
      />
      <form onSubmit={submit} data-testid="password-form" class="narrow-form" noValidate>
        <FormErrors errors={errors} known={['currentPassword', 'newPassword', 'again']} />
        <TextField label="Current password" name="currentPassword" type="password" value={current} onInput={setCurrent} errors={errors} required autoComplete="current-password" />
        <TextField label="New password" name="newPassword" type="password" value={next} onInput={setNext} errors={errors} required autoComplete="new-password" hint="At least 8 characters, not a common password, not your email." />
        <TextField label="New password again" name="again" type="password" value={again} onInput={setAgain} errors={errors} required autoComplete="new-password" />
        <div class="form-actions">
          <button type="submit" class="primary" disabled={busy} data-testid="password-change">
            {busy ? 'Changing…' : 'Change password'}
          </button>
        </div>
      </form>
    </>
  );
}
