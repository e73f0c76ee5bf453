/** Profile dialogs: clone under a new label; delete or retire, saying first what happens to its certificates. */
import { useState } from 'preact/hooks';
import { ApiError, api, describeError } from '../api';
import { useLoad, useSubmit } from '../hooks';
import { navigate } from '../router';
import { announce } from '../status';
import type { FieldError, Profile, ProfileRemovalPlan } from '../types';
import { Dialog, DialogActions, DoneActions } from './dialog';
import { CheckboxField, FormErrors, TextField, type SubmitEvent } from './fields';

export type ProfileAction = { kind: 'clone'; profile: Profile } | { kind: 'remove'; profile: Profile };

export function ProfileDialog(props: { action: ProfileAction; onClose: () => void; onChanged: () => void }) {
  return props.action.kind === 'clone'
    ? <CloneProfile source={props.action.profile} onClose={props.onClose} onChanged={props.onChanged} />
    : <RemoveProfile profile={props.action.profile} onClose={props.onClose} onChanged={props.onChanged} />;
}

function fieldErrors(e: unknown): FieldError[] {
  if (e instanceof ApiError && e.fieldErrors.length) return e.fieldErrors;
  if (e instanceof ApiError && e.status === 409) return [{ field: 'label', message: e.detail ?? e.title }];
  return [{ field: '', message: describeError(e) }];
}

function CloneProfile({ source, onClose, onChanged }: { source: Profile; onClose: () => void; onChanged: () => void }) {
  const [label, setLabel] = useState(`${source.label}-copy`);
  const [enabled, setEnabled] = useState(false);
  const { busy, error: errors, run } = useSubmit<FieldError[]>([], fieldErrors);
  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    await run(async () => {
      const created = await api.post<Profile>(`/api/profiles/${encodeURIComponent(source.label)}/clone`, { label: label.trim(), enabled });
      announce(`Profile ${created.label} created from ${source.label}`);
      onChanged();
      navigate(`/profiles/${encodeURIComponent(created.label)}`);
    });
  };
  return (
    <Dialog title={`Clone profile ${source.label}`} onClose={onClose} testId="clone-dialog">
      <form onSubmit={submit} noValidate>
        <FormErrors errors={errors} known={['label']} />
        <p>The new profile gets every setting of {source.label}: authentication, trust anchors, validity ({source.validity}), key and name rules, approval.</p>
        <TextField label="New label" name="label" value={label} onInput={setLabel} errors={errors} required spellcheck={false} hint='Letters, digits, "-", "_" and "."; the EST path segment.' />
        <CheckboxField label="Enable EST on the new profile at once" name="enabled" checked={enabled} onChange={setEnabled} errors={errors} hint="Off: review it first, then enable it in its form." />
        <DialogActions testId="clone-create" busy={busy} onCancel={onClose}>
          {busy ? 'Cloning…' : 'Clone profile'}
        </DialogActions>
      </form>
    </Dialog>
  );
}

function RemoveProfile({ profile, onClose, onChanged }: { profile: Profile; onClose: () => void; onChanged: () => void }) {
  const plan = useLoad(() => api.get<ProfileRemovalPlan>(`/api/profiles/${encodeURIComponent(profile.label)}/removal`), profile.label);
  const { busy, error, run } = useSubmit<string>('', (e) => describeError(e));
  const [done, setDone] = useState<string>();
  const p = plan.data;
  const verb = p?.action === 'retire' ? 'Retire' : 'Delete';
  const confirm = async (e: SubmitEvent) => {
    e.preventDefault();
    await run(async () => {
      const r = await api.del<{ outcome: 'deleted' | 'retired'; consequence: string }>(`/api/profiles/${encodeURIComponent(profile.label)}`);
      announce(`Profile ${profile.label} ${r.outcome}`);
      setDone(r.consequence);
      onChanged();
    });
  };
  return (
    <Dialog title={done ? `Profile ${profile.label} removed` : `${verb} profile ${profile.label}?`} onClose={onClose} testId="remove-dialog">
      {plan.error ? <p class="notice error">{plan.error}</p> : null}
      {done ? (
        <>
          <p data-testid="remove-done">{done}</p>
          <DoneActions onDone={onClose} />
        </>
      ) : p?.action === 'refused' ? (
        <>
          <p class="notice error" data-testid="remove-refused">{p.reason}</p>
          <div class="form-actions">
            <button type="button" class="secondary" onClick={onClose}>Close</button>
          </div>
        </>
      ) : p ? (
        <form onSubmit={confirm} noValidate>
          {error ? <p class="notice error" role="alert">{error}</p> : null}
          <p data-testid="remove-consequence">{p.consequence}</p>
          <ul class="plain-list">
            <li>Certificates issued: {p.use.certificates} ({p.use.validCertificates} still valid)</li>
            <li>Requests on record: {p.use.requests}</li>
          </ul>
          <DialogActions testId="remove-confirm" busy={busy} onCancel={onClose} class="primary danger">
            {busy ? `${verb === 'Retire' ? 'Retiring' : 'Deleting'}…` : `${verb} profile`}
          </DialogActions>
        </form>
      ) : (
        <p>Checking what the profile has issued…</p>
      )}
    </Dialog>
  );
}
