/** Sign-in with an admin-side account (admin, officer or auditor); a second step when it has a second factor. */
import { useState } from 'preact/hooks';
import { ApiError, api, describeError } from '../api';
import { CertificateSignIn } from '../components/certificate-sign-in';
import { TextField, type SubmitEvent } from '../components/fields';
import { usePageTitle } from '../hooks';
import type { Session } from '../types';
import { isNextStep, SecondStep, type NextStep } from './sign-in-second-step';

export function SignIn({ onSignedIn, expired }: { onSignedIn: (session: Session) => void; expired: boolean }) {
  usePageTitle('Sign in');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [step, setStep] = useState<NextStep>();

  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const answer = await api.post<Session | NextStep>('/api/session', { email: email.trim(), password });
      if (isNextStep(answer)) setStep(answer);
      else onSignedIn(answer);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'The email address or password is wrong.' : describeError(err));
      setPassword('');
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="sign-in">
      <div class="card sign-in-card">
        <div class="brand brand-large" aria-hidden="true">
          <Logo />
          <span>Estuary</span>
        </div>
        <h1 id="sign-in-title">{step ? 'Two-step sign-in' : 'Sign in to the Web RA'}</h1>
        {expired ? (
          <p class="notice info" role="status">
            Your session has ended. Sign in again to continue.
          </p>
        ) : null}
        {step ? (
          <SecondStep
            step={step}
            onSignedIn={onSignedIn}
            onRestart={(why) => {
              setStep(undefined);
              setPassword('');
              setError(`${why[0]!.toUpperCase()}${why.slice(1)}.`);
            }}
          />
        ) : (
          <form onSubmit={submit} aria-labelledby="sign-in-title" data-testid="sign-in-form">
            {error ? (
              <p class="notice error" role="alert" data-testid="sign-in-error">
                {error}
              </p>
            ) : null}
            <TextField label="Email address" name="email" type="email" value={email} onInput={setEmail} required autoComplete="username" spellcheck={false} />
            <TextField label="Password" name="password" type="password" value={password} onInput={setPassword} required autoComplete="current-password" />
            <button type="submit" class="primary wide" disabled={busy} data-testid="sign-in-submit">
              {busy ? 'Signing in…' : 'Sign in'}
            </button>
            <CertificateSignIn onSignedIn={onSignedIn} />
            <p class="hint">Operators, officers and auditors sign in here, and EST account holders with self-service.</p>
          </form>
        )}
      </div>
    </main>
  );
}

export function Logo() {
  return (
    <svg class="logo" viewBox="0 0 32 32" aria-hidden="true" focusable="false">
      <path d="M4 21c4-4 8-4 12 0s8 4 12 0" />
      <path d="M4 14c4-4 8-4 12 0s8 4 12 0" />
      <path d="M16 4v6" />
    </svg>
  );
}
