/** "Generate a password (shown once)" or "Set a password", and the shown-once result. */
import { useId } from 'preact/hooks';
import type { FieldError } from '../types';
import { CopyButton } from './copy-button';
import { TextField } from './fields';

export interface PasswordChoiceValue {
  mode: 'generate' | 'set';
  password: string;
}

export function PasswordChoice(props: { value: PasswordChoiceValue; onChange: (v: PasswordChoiceValue) => void; errors: FieldError[] }) {
  const name = useId();
  const { value } = props;
  return (
    <fieldset class="field group">
      <legend>Password</legend>
      <div class="choices stacked">
        <label class="choice">
          <input type="radio" name={name} value="generate" checked={value.mode === 'generate'} onChange={() => props.onChange({ ...value, mode: 'generate' })} data-testid="password-generate" />
          <span>Generate a password (shown once)</span>
        </label>
        <label class="choice">
          <input type="radio" name={name} value="set" checked={value.mode === 'set'} onChange={() => props.onChange({ ...value, mode: 'set' })} data-testid="password-set" />
          <span>Set a password</span>
        </label>
      </div>
      {value.mode === 'set' ? (
        <TextField
          label="New password"
          name="password"
          type="password"
          autoComplete="new-password"
          value={value.password}
          onInput={(password) => props.onChange({ ...value, password })}
          errors={props.errors}
          hint="At least 8 characters."
          required
        />
      ) : null}
    </fieldset>
  );
}

export function OneTimePassword({ email, password }: { email: string; password: string }) {
  return (
    <div class="one-time" data-testid="one-time-password-box">
      <p>
        The password of <strong>{email}</strong>. It is shown only now: hand it over securely.
      </p>
      <div class="input-with-button">
        <label for="otp" class="visually-hidden">
          Password of {email}
        </label>
        <input id="otp" class="mono" readOnly value={password} data-testid="one-time-password" />
        <CopyButton value={password} what="password" testId="copy-password" />
      </div>
    </div>
  );
}
