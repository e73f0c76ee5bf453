/** The signed-in operator's own account: its second factor (two-step sign-in with TOTP). */
import { useState } from 'preact/hooks';
import { ApiError, api, describeError } from '../api';
import { Dialog, DialogActions, DoneActions } from '../components/dialog';
import { FormErrors, TextField, type SubmitEvent } from '../components/fields';
import { MfaEnrolment, type Enrolment } from '../components/mfa-enrolment';
import { LoadError, Loading, PageHeader } from '../components/page';
import { formatDate } from '../format';
import { useLoad } from '../hooks';
import { useSession } from '../session';
import { announce } from '../status';
import type { FieldError } from '../types';

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
  const [change, setChange] = useState<'recovery-codes' | 'disable' | null>(null);
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
              <div class="form-actions">
                <button type="button" class="secondary" onClick={() => setChange('recovery-codes')} data-testid="mfa-new-codes">
                  New recovery codes
                </button>
                {data.required ? null : (
                  <button type="button" class="secondary danger" onClick={() => setChange('disable')} data-testid="mfa-turn-off">
                    Turn off
                  </button>
                )}
              </div>
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
      {change ? (
        <CodeConfirmedChange
          change={change}
          onClose={() => {
            setChange(null);
            reload();
          }}
        />
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

/** New recovery codes or turning the factor off: both take a current code of the authenticator app. */
function CodeConfirmedChange({ change, onClose }: { change: 'recovery-codes' | 'disable'; onClose: () => void }) {
  const [code, setCode] = useState('');
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);
  const [codes, setCodes] = useState<string[]>();
  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    setBusy(true);
    setErrors([]);
    try {
      if (change === 'recovery-codes') {
        setCodes((await api.post<{ recoveryCodes: string[] }>('/api/mfa/recovery-codes', { code: code.replace(/\s/g, '') })).recoveryCodes);
      } else {
        await api.post('/api/mfa/disable', { code: code.replace(/\s/g, '') });
        announce('Two-step sign-in is off');
        onClose();
      }
    } catch (err) {
      setErrors(err instanceof ApiError && err.fieldErrors.length ? err.fieldErrors : [{ field: '', message: describeError(err) }]);
      setCode('');
    } finally {
      setBusy(false);
    }
  };
  const title = change === 'recovery-codes' ? 'New recovery codes' : 'Turn off two-step sign-in';
  return (
    <Dialog title={title} onClose={onClose} testId="mfa-change-dialog">
      {codes ? (
        <>
          <div class="one-time" data-testid="mfa-recovery-codes">
            <p>Your new recovery codes, shown only now. The old ones no longer work.</p>
            <ol class="recovery-codes mono" data-testid="mfa-recovery-list">
              {codes.map((c) => (
                <li key={c}>{c}</li>
              ))}
            </ol>
          </div>
          <DoneActions onDone={onClose} />
        </>
      ) : (
        <form onSubmit={submit} noValidate>
          <p>{change === 'recovery-codes' ? 'The codes you have now stop working.' : 'Your password alone will sign you in.'} Confirm with the code your authenticator app shows now.</p>
          <FormErrors errors={errors} known={['code']} />
          <TextField label="Code" name="code" value={code} onInput={setCode} errors={errors} required autoComplete="one-time-code" spellcheck={false} />
          <DialogActions testId="mfa-change-confirm" busy={busy} onCancel={onClose} class={change === 'disable' ? 'primary danger' : 'primary'}>
            {change === 'recovery-codes' ? 'Make new codes' : 'Turn off'}
          </DialogActions>
        </form>
      )}
    </Dialog>
  );
}
