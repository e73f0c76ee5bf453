/**
 * The sign-in's second step, after the password: the code of the authenticator app (or a recovery
 * code), or, when the role requires a second factor the account does not have yet, its enrolment.
 */
import { useState } from 'preact/hooks';
import { ApiError, api, describeError } from '../api';
import { TextField, type SubmitEvent } from '../components/fields';
import { MfaEnrolment, type Enrolment } from '../components/mfa-enrolment';
import type { Session } from '../types';

export interface NextStep {
  next: 'code' | 'enrol';
  expiresAt: string;
}

export const isNextStep = (r: Session | NextStep): r is NextStep => 'next' in r;

export function SecondStep({ step, onSignedIn, onRestart }: { step: NextStep; onSignedIn: (s: Session) => void; onRestart: (why: string) => void }) {
  return step.next === 'code' ? <CodeStep onSignedIn={onSignedIn} onRestart={onRestart} /> : <EnrolStep onSignedIn={onSignedIn} onRestart={onRestart} />;
}

/** A 401 other than a wrong code: the step expired or was completed; back to the password. */
const restartReason = (e: unknown): string | undefined =>
  e instanceof ApiError && e.status === 401 && e.detail && !/^wrong code$|already used/.test(e.detail) ? e.detail : undefined;

function codeError(e: unknown): string {
  if (e instanceof ApiError && e.status === 401) return e.detail?.includes('already used') ? 'This code was already used. Wait for the next one.' : 'The code is wrong.';
  return describeError(e);
}

function CodeStep({ onSignedIn, onRestart }: { onSignedIn: (s: Session) => void; onRestart: (why: string) => void }) {
  const [code, setCode] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onSignedIn(await api.post<Session>('/api/session/code', { code: code.trim() }));
    } catch (err) {
      const restart = restartReason(err);
      if (restart) return onRestart(restart);
      setError(codeError(err));
      setCode('');
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit} data-testid="sign-in-code-form" noValidate>
      <p>Enter the 6-digit code from your authenticator app, or one of your recovery codes.</p>
      {error ? (
        <p class="notice error" role="alert" data-testid="sign-in-error">
          {error}
        </p>
      ) : null}
      <TextField label="Code" name="code" value={code} onInput={setCode} required autoComplete="one-time-code" spellcheck={false} />
      <button type="submit" class="primary wide" disabled={busy} data-testid="sign-in-code-submit">
        {busy ? 'Checking…' : 'Verify'}
      </button>
    </form>
  );
}

function EnrolStep({ onSignedIn, onRestart }: { onSignedIn: (s: Session) => void; onRestart: (why: string) => void }) {
  const [session, setSession] = useState<Session>();
  const guard = <T,>(p: Promise<T>): Promise<T> =>
    p.catch((e: unknown) => {
      const restart = restartReason(e);
      if (restart) onRestart(restart);
      throw e;
    });
  return (
    <div data-testid="sign-in-enrol">
      <p class="notice info">Your role requires two-step sign-in. Set it up now to continue.</p>
      <MfaEnrolment
        start={() => guard(api.post<Enrolment>('/api/session/enrolment'))}
        confirm={async (code) => {
          const r = await guard(api.post<Session & { recoveryCodes: string[] }>('/api/session/enrolment/confirm', { code }));
          const { recoveryCodes, ...s } = r;
          setSession(s);
          return recoveryCodes;
        }}
        onDone={() => session && onSignedIn(session)}
        doneLabel="Continue to the Web RA"
      />
    </div>
  );
}
