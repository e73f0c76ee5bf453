/**
 * Setting up the second factor (TOTP): the QR code and the secret to type, a field for the first
 * code, then the recovery codes, shown once. Used from the own-account page and from a sign-in
 * whose role requires a second factor.
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, describeError } from '../api';
import type { FieldError } from '../types';
import { CopyButton } from './copy-button';
import { FormErrors, TextField, type SubmitEvent } from './fields';

export interface Enrolment {
  secret: string;
  uri: string;
  qrCode: string;
}

/** Spaces every four characters, as apps that take a typed key show it. */
const grouped = (secret: string) => secret.replace(/(.{4})(?=.)/g, '$1 ');

export function MfaEnrolment(props: {
  start: () => Promise<Enrolment>;
  confirm: (code: string) => Promise<string[]>;
  onDone: () => void;
  doneLabel?: string;
}) {
  const [enrolment, setEnrolment] = useState<Enrolment>();
  const [loadError, setLoadError] = useState<string>();
  const [code, setCode] = useState('');
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);
  const [codes, setCodes] = useState<string[]>();

  useEffect(() => {
    props.start().then(setEnrolment, (e: unknown) => setLoadError(describeError(e)));
  }, []);

  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    setBusy(true);
    setErrors([]);
    try {
      setCodes(await props.confirm(code.replace(/\s/g, '')));
    } catch (err) {
      setErrors(err instanceof ApiError && err.fieldErrors.length ? err.fieldErrors : [{ field: '', message: describeError(err) }]);
      setCode('');
    } finally {
      setBusy(false);
    }
  };

  if (loadError) {
    return (
      <p class="notice error" role="alert" data-testid="mfa-start-error">
        {loadError}
      </p>
    );
  }
  if (codes) {
    return (
      <div class="one-time" data-testid="mfa-recovery-codes">
        <p>
          <strong>Two-step sign-in is on.</strong> Keep these recovery codes somewhere safe: each signs you in once if you lose the device. They are shown only now.
        </p>
        <ol class="recovery-codes mono" data-testid="mfa-recovery-list">
          {codes.map((c) => (
            <li key={c}>{c}</li>
          ))}
        </ol>
        <div class="form-actions">
          <CopyButton value={codes.join('\n')} what="recovery codes" label="Copy the codes" testId="mfa-copy-codes" />
          <button type="button" class="primary" onClick={props.onDone} data-testid="mfa-done">
            {props.doneLabel ?? 'Done'}
          </button>
        </div>
      </div>
    );
  }
  if (!enrolment) return <p aria-busy="true">Making a secret…</p>;
  return (
    <form onSubmit={submit} noValidate data-testid="mfa-enrol-form">
      <ol class="mfa-steps">
        <li>
          Scan this code with an authenticator app (FreeOTP, Aegis, Google Authenticator, 1Password…).
          <img class="mfa-qr" src={enrolment.qrCode} alt="QR code of the authenticator secret" width={200} height={200} data-testid="mfa-qr" />
          <span class="hint">
            Cannot scan? Enter this key (time-based, 6 digits, 30 s): <code data-testid="mfa-secret">{grouped(enrolment.secret)}</code>
          </span>
          <a class="visually-hidden" href={enrolment.uri} data-testid="mfa-uri">
            otpauth link
          </a>
        </li>
        <li>Type the 6-digit code the app shows now.</li>
      </ol>
      <FormErrors errors={errors} known={['code']} />
      <TextField label="Code" name="code" value={code} onInput={setCode} errors={errors} required autoComplete="one-time-code" spellcheck={false} />
      <div class="form-actions">
        <button type="submit" class="primary" disabled={busy} data-testid="mfa-confirm">
          {busy ? 'Checking…' : 'Turn on two-step sign-in'}
        </button>
      </div>
    </form>
  );
}
