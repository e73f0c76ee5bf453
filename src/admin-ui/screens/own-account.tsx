/** The signed-in operator's own account: its second factor (two-step sign-in with TOTP). */
import { useState } from 'preact/hooks';
import { api } from '../api';
import { Dialog } from '../components/dialog';
import { MfaEnrolment, type Enrolment } from '../components/mfa-enrolment';
import { LoadError, Loading, PageHeader } from '../components/page';
import { formatDate } from '../format';
import { useLoad } from '../hooks';
import { useSession } from '../session';
import { announce } from '../status';

interface MfaStatus {
  enrolled: boolean;
  required: boolean;
  confirmedAt: string | null;
  recoveryCodesLeft: number;
}

export function OwnAccountScreen() {
  const session = useSession();
  const { data, error, loading, reload } = useLoad(() => api.get<MfaStatus>('/api/mfa'), 'own-mfa');
  const [enrolling, setEnrolling] = useState(false);
  return (
    <>
      <PageHeader title="Your account" lead={`${session.email}, ${session.role}`} />
      <LoadError error={error} onRetry={reload} />
      <Loading show={loading && !data} />
      {data ? (
        <section class="card" aria-labelledby="mfa-title" data-testid="own-mfa">
          <h2 id="mfa-title">Two-step sign-in</h2>
          {data.enrolled ? (
            <>
              <p data-testid="own-mfa-state">
                On since {formatDate(data.confirmedAt!)}: after your password, the Web RA asks for the code of your authenticator app.{' '}
                {data.recoveryCodesLeft} of 10 recovery codes left.
              </p>
              <p class="hint">Lost the device? Sign in with a recovery code, or ask an admin to reset your second factor; then set it up again here.</p>
            </>
          ) : (
            <>
              <p data-testid="own-mfa-state">
                Off: your password alone signs you in.{data.required ? ' Your role requires two-step sign-in: you will set it up at your next sign-in if you do not now.' : ''}
              </p>
              <button type="button" class="primary" onClick={() => setEnrolling(true)} data-testid="mfa-set-up">
                Set up two-step sign-in
              </button>
            </>
          )}
        </section>
      ) : null}
      {enrolling ? (
        <Dialog title="Set up two-step sign-in" onClose={() => setEnrolling(false)} testId="mfa-dialog">
          <MfaEnrolment
            start={() => api.post<Enrolment>('/api/mfa')}
            confirm={async (code) => (await api.post<{ recoveryCodes: string[] }>('/api/mfa/confirm', { code })).recoveryCodes}
            onDone={() => {
              setEnrolling(false);
              announce('Two-step sign-in is on');
              reload();
            }}
          />
        </Dialog>
      ) : null}
    </>
  );
}
