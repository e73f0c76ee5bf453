/** "Sign in with a client certificate", shown when the server is configured for it (admin.clientCertificateCa). */
import { useEffect, useState } from 'preact/hooks';
import { api, describeError } from '../api';
import type { Session } from '../types';

export function CertificateSignIn({ onSignedIn }: { onSignedIn: (session: Session) => void }) {
  const [enabled, setEnabled] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  useEffect(() => {
    api.get<{ enabled: boolean }>('/api/session/certificate').then((r) => setEnabled(r.enabled), () => setEnabled(false));
  }, []);
  if (!enabled) return null;
  const signIn = async () => {
    setBusy(true);
    setError(undefined);
    try {
      onSignedIn(await api.post<Session>('/api/session/certificate'));
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="certificate-sign-in">
      {error ? (
        <p class="notice error" role="alert" data-testid="certificate-sign-in-error">
          {error}
        </p>
      ) : null}
      <button type="button" class="secondary wide" disabled={busy} onClick={signIn} data-testid="certificate-sign-in">
        {busy ? 'Signing in…' : 'Sign in with a client certificate'}
      </button>
      <p class="hint">Uses the certificate your browser presented to this site; its email address names your account.</p>
    </div>
  );
}
