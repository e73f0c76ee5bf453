/** API tokens (admins): create one (its secret shown once, with a copy button), list, revoke. */
import { useState } from 'preact/hooks';
import { ApiError, api, describeError } from '../api';
import { Badge } from '../components/badge';
import { CopyButton } from '../components/copy-button';
import { Dialog, DialogActions, DoneActions } from '../components/dialog';
import { FormErrors, NumberField, SelectField, TextField, type SubmitEvent } from '../components/fields';
import { DataTable } from '../components/list-screen';
import { Empty, LoadError, Loading, PageHeader } from '../components/page';
import { formatDate, formatDateTime } from '../format';
import { useLoad, useSubmit } from '../hooks';
import { announce } from '../status';
import type { FieldError, Role } from '../types';

interface ApiToken {
  id: number;
  name: string;
  hint: string;
  role: Role;
  status: 'active' | 'expired' | 'revoked';
  createdBy: string;
  createdAt: string;
  expiresAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
}

const STATUS_BADGE: Record<ApiToken['status'], { status: string; label: string }> = {
  active: { status: 'enabled', label: 'Active' },
  expired: { status: 'expired', label: 'Expired' },
  revoked: { status: 'revoked', label: 'Revoked' },
};

function fieldErrorsOf(e: unknown): FieldError[] {
  if (e instanceof ApiError && e.fieldErrors.length) return e.fieldErrors;
  if (e instanceof ApiError && e.status === 409) return [{ field: 'name', message: e.detail ?? e.title }];
  return [{ field: '', message: describeError(e) }];
}

function CreateToken({ onClose, onChanged }: { onClose: () => void; onChanged: () => void }) {
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('auditor');
  const [days, setDays] = useState(90);
  const { busy, error: errors, run } = useSubmit<FieldError[]>([], fieldErrorsOf);
  const [created, setCreated] = useState<{ token: ApiToken; secret: string }>();

  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    await run(async () => {
      const result = await api.post<{ token: ApiToken; secret: string }>('/api/tokens', { name: name.trim(), role, expiresInDays: days });
      announce(`API token ${result.token.name} created`);
      setCreated(result);
      onChanged();
    });
  };

  return (
    <Dialog title={created ? 'API token created' : 'New API token'} onClose={onClose} testId="token-dialog">
      {created ? (
        <>
          <div class="one-time" data-testid="token-secret-box">
            <p>
              The secret of <strong>{created.token.name}</strong> ({created.token.role}, expires {formatDate(created.token.expiresAt)}). It is shown only
              now and never stored: copy it into your automation's secret store. Send it as <code>Authorization: Bearer &lt;secret&gt;</code>.
            </p>
            <div class="input-with-button">
              <label for="token-secret" class="visually-hidden">
                Secret of {created.token.name}
              </label>
              <input id="token-secret" class="mono" readOnly value={created.secret} data-testid="token-secret" />
              <CopyButton value={created.secret} what="token" testId="copy-token" />
            </div>
          </div>
          <DoneActions onDone={onClose} />
        </>
      ) : (
        <form onSubmit={submit} data-testid="token-form" noValidate>
          <FormErrors errors={errors} known={['name', 'role', 'expiresInDays']} />
          <TextField
            label="Name"
            name="name"
            value={name}
            onInput={setName}
            errors={errors}
            required
            autoComplete="off"
            spellcheck={false}
            hint="Letters, digits, '.', '_' and '-'. The audit log names its calls token:<name>."
          />
          <SelectField<Role>
            label="Role"
            name="role"
            value={role}
            onChange={setRole}
            errors={errors}
            options={[
              { value: 'auditor', label: 'Auditor (reads everything)' },
              { value: 'officer', label: 'Officer (approves, rejects, revokes)' },
              { value: 'admin', label: 'Admin (everything, including tokens)' },
            ]}
          />
          <NumberField label="Expires in" name="expiresInDays" value={days} onInput={setDays} min={1} max={365} unit="days" errors={errors} hint="1 to 365 days." required />
          <DialogActions testId="token-create" busy={busy} onCancel={onClose}>
            {busy ? 'Creating…' : 'Create token'}
          </DialogActions>
        </form>
      )}
    </Dialog>
  );
}

function RevokeToken({ token, onClose, onChanged }: { token: ApiToken; onClose: () => void; onChanged: () => void }) {
  const { busy, error, run } = useSubmit<string>('', describeError);
  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    await run(async () => {
      await api.del(`/api/tokens/${token.id}`);
      announce(`API token ${token.name} revoked`);
      onChanged();
      onClose();
    });
  };
  return (
    <Dialog title={`Revoke the API token ${token.name}?`} onClose={onClose} testId="token-revoke-dialog">
      <form onSubmit={submit} noValidate>
        {error ? <p class="notice error">{error}</p> : null}
        <p>Scripts using it are refused from their next call. This cannot be undone; the token stays listed as revoked.</p>
        <DialogActions testId="token-revoke-confirm" busy={busy} onCancel={onClose} class="primary danger">
          Revoke token
        </DialogActions>
      </form>
    </Dialog>
  );
}

export function ApiTokensScreen() {
  const { data, error, loading, reload } = useLoad(() => api.get<{ items: ApiToken[] }>('/api/tokens'), 'tokens');
  const [creating, setCreating] = useState(false);
  const [revoking, setRevoking] = useState<ApiToken | null>(null);
  const items = data?.items ?? [];
  return (
    <>
      <PageHeader title="API tokens" lead="Scripts and automation call the JSON API (see /api/openapi.json) with a token as Authorization: Bearer, with the role it was given.">
        <button type="button" class="primary" onClick={() => setCreating(true)} data-testid="new-token">
          New token
        </button>
      </PageHeader>
      <LoadError error={error} onRetry={reload} />
      <Loading show={loading && !data} />
      {data && items.length === 0 ? <Empty>No API tokens yet.</Empty> : null}
      {items.length ? (
        <div class="table-wrap card flush">
          <DataTable columns={['Name', 'Role', 'Status', 'Secret starts', 'Created by', 'Created', 'Expires', 'Last used']} actions testId="tokens-table">
            {items.map((t) => (
              <tr key={t.id} data-testid={`token-row-${t.name}-${t.status}`}>
                <th scope="row">{t.name}</th>
                <td>{t.role}</td>
                <td>
                  <Badge {...STATUS_BADGE[t.status]} />
                  {t.revokedBy ? <span class="muted"> by {t.revokedBy}</span> : null}
                </td>
                <td>
                  <code>{t.hint}…</code>
                </td>
                <td class="break-anywhere">{t.createdBy}</td>
                <td>{formatDate(t.createdAt)}</td>
                <td>{formatDate(t.expiresAt)}</td>
                <td>{t.lastUsedAt ? formatDateTime(t.lastUsedAt) : <span class="muted">never</span>}</td>
                <td class="actions">
                  {t.status !== 'revoked' ? (
                    <button type="button" class="secondary small" onClick={() => setRevoking(t)} aria-label={`Revoke the API token ${t.name}`}>
                      Revoke
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </DataTable>
        </div>
      ) : null}
      {creating ? <CreateToken onClose={() => setCreating(false)} onChanged={reload} /> : null}
      {revoking ? <RevokeToken token={revoking} onClose={() => setRevoking(null)} onChanged={reload} /> : null}
    </>
  );
}
