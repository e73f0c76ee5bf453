/** The account dialogs: create, reset password, restrict to profiles and names. */
import { useState } from 'preact/hooks';
import { ApiError, api, describeError } from '../api';
import { useLoad, useSubmit } from '../hooks';
import { announce } from '../status';
import type { Account, AccountRemovalPlan, AccountRole, FieldError, Profile } from '../types';
import { Dialog, DialogActions, DoneActions } from './dialog';
import { CheckboxField, CheckboxGroup, FormErrors, SelectField, TextField, type SubmitEvent } from './fields';
import { ListField } from './list-field';
import { OneTimePassword, PasswordChoice, type PasswordChoiceValue } from './password-choice';

export type AccountAction =
  | { kind: 'create' } | { kind: 'password'; account: Account } | { kind: 'restrict'; account: Account } | { kind: 'delete'; account: Account };

export function AccountDialog(props: { action: AccountAction; onClose: () => void; onChanged: () => void }) {
  switch (props.action.kind) {
    case 'create':
      return <CreateAccount onClose={props.onClose} onChanged={props.onChanged} />;
    case 'password':
      return <ResetPassword account={props.action.account} onClose={props.onClose} onChanged={props.onChanged} />;
    case 'restrict':
      return <Restrict account={props.action.account} onClose={props.onClose} onChanged={props.onChanged} />;
    case 'delete':
      return <DeleteAccount account={props.action.account} onClose={props.onClose} onChanged={props.onChanged} />;
  }
}

function fieldErrorsOf(e: unknown, fallbackField: string): FieldError[] {
  if (e instanceof ApiError && e.fieldErrors.length) return e.fieldErrors;
  if (e instanceof ApiError && e.status === 409) return [{ field: fallbackField, message: e.detail ?? e.title }];
  return [{ field: '', message: describeError(e) }];
}

function CreateAccount({ onClose, onChanged }: { onClose: () => void; onChanged: () => void }) {
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<AccountRole>('est');
  const [pw, setPw] = useState<PasswordChoiceValue>({ mode: 'generate', password: '' });
  const [selfService, setSelfService] = useState(false);
  const [restrict, setRestrict] = useState<{ profiles: string[]; names: string[] }>({ profiles: [], names: [] });
  const { busy, error: errors, run } = useSubmit<FieldError[]>([], (err) => fieldErrorsOf(err, 'email'));
  const [created, setCreated] = useState<{ email: string; password?: string }>();

  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    await run(async () => {
      const restrictions = role === 'est' ? { allowedProfiles: restrict.profiles, allowedNames: restrict.names, ...(selfService ? { selfService } : {}) } : {};
      const body = { email: email.trim(), role, ...(pw.mode === 'set' ? { password: pw.password } : {}), ...restrictions };
      const result = await api.post<{ email: string; role: AccountRole; password?: string }>('/api/accounts', body);
      announce(`Account ${result.email} created`);
      setCreated(result);
      onChanged();
    });
  };

  return (
    <Dialog title={created ? 'Account created' : 'New account'} onClose={onClose} testId="account-dialog">
      {created ? (
        <>
          {created.password ? <OneTimePassword email={created.email} password={created.password} /> : <p>{created.email} can now use the password you set.</p>}
          <DoneActions onDone={onClose} />
        </>
      ) : (
        <form onSubmit={submit} data-testid="account-form" noValidate>
          <FormErrors errors={errors} known={['email', 'role', 'password', 'allowedProfiles', 'allowedNames', 'selfService']} />
          <TextField label="Email address" name="email" type="email" value={email} onInput={setEmail} errors={errors} required autoComplete="off" spellcheck={false} />
          <SelectField<AccountRole>
            label="Role"
            name="role"
            value={role}
            onChange={setRole}
            errors={errors}
            options={[
              { value: 'est', label: 'EST account (enrols over EST)' },
              { value: 'officer', label: 'Officer (approves, rejects, revokes)' },
              { value: 'auditor', label: 'Auditor (reads everything)' },
              { value: 'admin', label: 'Admin (everything)' },
            ]}
          />
          {role === 'est' ? (
            <CheckboxField
              label="Self-service: the holder may sign in here to see, download and revoke its own certificates and change its password"
              name="selfService"
              checked={selfService}
              onChange={setSelfService}
              errors={errors}
            />
          ) : null}
          <PasswordChoice value={pw} onChange={setPw} errors={errors} />
          {role === 'est' ? <Restrictions value={restrict} onChange={setRestrict} errors={errors} /> : null}
          <DialogActions testId="account-create" busy={busy} onCancel={onClose}>
            {busy ? 'Creating…' : 'Create account'}
          </DialogActions>
        </form>
      )}
    </Dialog>
  );
}

function ResetPassword({ account, onClose, onChanged }: { account: Account; onClose: () => void; onChanged: () => void }) {
  const [pw, setPw] = useState<PasswordChoiceValue>({ mode: 'generate', password: '' });
  const { busy, error: errors, run } = useSubmit<FieldError[]>([], (err) => fieldErrorsOf(err, 'password'));
  const [result, setResult] = useState<{ password?: string }>();

  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    await run(async () => {
      const r = await api.post<{ password?: string }>(`/api/accounts/${encodeURIComponent(account.email)}/password`, pw.mode === 'set' ? { password: pw.password } : {});
      announce(`Password of ${account.email} reset`);
      setResult(r ?? {});
      onChanged();
    });
  };

  return (
    <Dialog title={`Reset the password of ${account.email}`} onClose={onClose} testId="password-dialog">
      {result ? (
        <>
          {result.password ? <OneTimePassword email={account.email} password={result.password} /> : <p>The new password is set.</p>}
          <DoneActions onDone={onClose} />
        </>
      ) : (
        <form onSubmit={submit} noValidate>
          <FormErrors errors={errors} known={['password']} />
          <p>The old password stops working at once.</p>
          <PasswordChoice value={pw} onChange={setPw} errors={errors} />
          <DialogActions testId="password-reset" busy={busy} onCancel={onClose}>
            Reset password
          </DialogActions>
        </form>
      )}
    </Dialog>
  );
}

/** The profiles and names an EST account is restricted to (empty lists: no restriction). */
function Restrictions(props: { value: { profiles: string[]; names: string[] }; onChange: (v: { profiles: string[]; names: string[] }) => void; errors: FieldError[]; extraLabels?: string[] }) {
  const profiles = useLoad(() => api.get<{ items: Profile[] }>('/api/profiles'), 'profiles');
  const active = (profiles.data?.items ?? []).filter((p) => !p.retiredAt).map((p) => p.label);
  const labels = [...new Set([...active, ...(props.extraLabels ?? [])])];
  const { value, onChange, errors } = props;
  return (
    <>
      {profiles.error ? <p class="notice error">{profiles.error}</p> : null}
      <CheckboxGroup
        label="Profiles this account may use"
        name="allowedProfiles"
        options={labels.map((l) => ({ value: l, label: l }))}
        value={value.profiles}
        onChange={(v) => onChange({ ...value, profiles: v })}
        errors={errors}
        hint="None ticked: no restriction (a profile's own list of accounts still applies)."
      />
      <ListField
        label="Names this account may request"
        name="allowedNames"
        value={value.names}
        onChange={(v) => onChange({ ...value, names: v })}
        errors={errors}
        placeholder="e.g. sensor-17.*.example.com"
        hint="Every subject CN, emailAddress and SAN must match one; * matches within one label. A bare name covers CNs, DNS names and IPs; email:, uri:, dns:, ip: or cn: limits it to one type (e.g. email:*@example.com). Empty: any name the profile allows."
      />
    </>
  );
}

function Restrict({ account, onClose, onChanged }: { account: Account; onClose: () => void; onChanged: () => void }) {
  const [value, setValue] = useState({ profiles: account.allowedProfiles, names: account.allowedNames });
  const { busy, error: errors, run } = useSubmit<FieldError[]>([], (err) => fieldErrorsOf(err, 'allowedProfiles'));
  const path = `/api/accounts/${encodeURIComponent(account.email)}`;

  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    await run(async () => {
      await api.patch(path, { allowedProfiles: value.profiles, allowedNames: value.names });
      announce(`Restrictions of ${account.email} saved`);
      onChanged();
      onClose();
    });
  };

  return (
    <Dialog title={`Restrict ${account.email}`} onClose={onClose} testId="restrict-dialog">
      <form onSubmit={submit} noValidate>
        <FormErrors errors={errors} known={['allowedProfiles', 'allowedNames']} />
        <Restrictions value={value} onChange={setValue} errors={errors} extraLabels={account.allowedProfiles} />
        <DialogActions testId="restrict-save" busy={busy} onCancel={onClose}>
          Save restrictions
        </DialogActions>
      </form>
    </Dialog>
  );
}

function DeleteAccount({ account, onClose, onChanged }: { account: Account; onClose: () => void; onChanged: () => void }) {
  const path = `/api/accounts/${encodeURIComponent(account.email)}`;
  const plan = useLoad(() => api.get<AccountRemovalPlan>(`${path}/removal`), account.email);
  const { busy, error, run } = useSubmit<string>('', (e) => describeError(e));
  const confirm = async (e: SubmitEvent) => {
    e.preventDefault();
    await run(async () => {
      await api.del(path);
      announce(`Account ${account.email} deleted`);
      onChanged();
      onClose();
    });
  };
  const p = plan.data;
  return (
    <Dialog title={`Delete account ${account.email}?`} onClose={onClose} testId="delete-account-dialog">
      {plan.error ? <p class="notice error">{plan.error}</p> : null}
      {p?.action === 'refused' ? (
        <>
          <p class="notice error" data-testid="delete-refused">{p.reason}</p>
          <div class="form-actions">
            <button type="button" class="secondary" onClick={onClose}>Close</button>
          </div>
        </>
      ) : p ? (
        <form onSubmit={confirm} noValidate>
          {error ? <p class="notice error" role="alert">{error}</p> : null}
          <p data-testid="delete-consequence">{p.consequence}</p>
          <DialogActions testId="delete-account-confirm" busy={busy} onCancel={onClose} class="danger primary">
            {busy ? 'Deleting…' : 'Delete account'}
          </DialogActions>
        </form>
      ) : (
        <p>Checking…</p>
      )}
    </Dialog>
  );
}
