/** EST and Web RA accounts: create (with restrictions), disable/enable, reset password, unlock, restrict, delete. */
import { useState } from 'preact/hooks';
import { api, describeError } from '../api';
import { AccountDialog, type AccountAction } from '../components/account-dialogs';
import { Badge } from '../components/badge';
import { MfaPolicyCard, MfaResetDialog } from '../components/mfa-admin';
import { SelectField } from '../components/fields';
import { DataTable } from '../components/list-screen';
import { Empty, LoadError, Loading, PageHeader } from '../components/page';
import { formatDate } from '../format';
import { can, useLoad } from '../hooks';
import { useSession } from '../session';
import { announce } from '../status';
import type { Account } from '../types';

type RoleFilter = 'est' | 'operators' | 'all';

export function AccountsScreen() {
  const session = useSession();
  const mayWrite = can(session.role, 'accounts.write');
  const { data, error, loading, reload } = useLoad(() => api.get<{ items: Account[] }>('/api/accounts'), 'accounts');
  const [filter, setFilter] = useState<RoleFilter>('est');
  const [action, setAction] = useState<AccountAction | null>(null);
  const [mfaReset, setMfaReset] = useState<Account | null>(null);
  const items = (data?.items ?? []).filter((a) => filter === 'all' || (filter === 'est' ? a.role === 'est' : a.role !== 'est'));

  const toggle = async (a: Account) => {
    try {
      await api.patch(`/api/accounts/${encodeURIComponent(a.email)}`, { disabled: !a.disabled });
      announce(`${a.email} ${a.disabled ? 'enabled' : 'disabled'}`);
      reload();
    } catch (e) {
      announce(`Could not change ${a.email}: ${describeError(e)}`, 'error');
    }
  };

  const selfService = async (a: Account) => {
    try {
      await api.patch(`/api/accounts/${encodeURIComponent(a.email)}`, { selfService: !a.selfService });
      announce(`Self-service ${a.selfService ? 'turned off' : 'turned on'} for ${a.email}`);
      reload();
    } catch (e) {
      announce(`Could not change ${a.email}: ${describeError(e)}`, 'error');
    }
  };

  const unlock = async (a: Account) => {
    try {
      await api.post(`/api/accounts/${encodeURIComponent(a.email)}/unlock`);
      announce(`${a.email} unlocked: failed sign-ins no longer block it`);
    } catch (e) {
      announce(`Could not unlock ${a.email}: ${describeError(e)}`, 'error');
    }
  };

  return (
    <>
      <PageHeader title="EST and Web RA accounts" lead="EST accounts: devices and enrolment tools authenticate with them over HTTP Basic. Web RA accounts (admin, officer, auditor): operators sign in here with them.">
        {mayWrite ? (
          <button type="button" class="primary" onClick={() => setAction({ kind: 'create' })} data-testid="new-account">
            New account
          </button>
        ) : null}
      </PageHeader>
      <div class="toolbar">
        <SelectField<RoleFilter>
          label="Show"
          name="roleFilter"
          value={filter}
          onChange={setFilter}
          options={[
            { value: 'est', label: 'EST accounts' },
            { value: 'operators', label: 'Web RA accounts (admin, officer, auditor)' },
            { value: 'all', label: 'All accounts' },
          ]}
        />
      </div>
      {filter !== 'est' ? <MfaPolicyCard mayWrite={mayWrite} /> : null}
      <LoadError error={error} onRetry={reload} />
      <Loading show={loading && !data} />
      {data && items.length === 0 ? <Empty>No accounts to show.</Empty> : null}
      {items.length ? (
        <div class="table-wrap card flush">
          <DataTable columns={['Email', 'Role', 'Status', 'MFA', 'Profiles', 'Allowed names', 'Created']} actions={mayWrite} testId="accounts-table">
            {items.map((a) => (
              <tr key={a.email} data-testid={`account-row-${a.email}`}>
                <th scope="row" class="break-anywhere">
                  {a.email}
                </th>
                <td>{a.role}</td>
                <td>
                  {a.disabled ? <Badge status="disabled" label="Disabled" /> : <Badge status="enabled" label="Active" />}
                  {a.selfService ? <> <Badge status="self-service" label="Self-service" /></> : null}
                </td>
                <td data-testid="account-mfa">{a.role === 'est' ? <span class="muted">—</span> : a.mfa ? <Badge status="enabled" label="On" /> : <span class="muted">off</span>}</td>
                <td>{a.role === 'est' ? (a.allowedProfiles.length ? a.allowedProfiles.join(', ') : <span class="muted">any</span>) : <span class="muted">—</span>}</td>
                <td>{a.role === 'est' ? (a.allowedNames.length ? <code>{a.allowedNames.join(', ')}</code> : <span class="muted">any the profile allows</span>) : <span class="muted">—</span>}</td>
                <td>{formatDate(a.createdAt)}</td>
                {mayWrite ? (
                  <td class="actions">
                    <button type="button" class="secondary small" onClick={() => toggle(a)} aria-label={`${a.disabled ? 'Enable' : 'Disable'} ${a.email}`} disabled={a.email === session.email}>
                      {a.disabled ? 'Enable' : 'Disable'}
                    </button>
                    <button type="button" class="secondary small" onClick={() => setAction({ kind: 'password', account: a })} aria-label={`Reset the password of ${a.email}`}>
                      Reset password
                    </button>
                    <button type="button" class="secondary small" onClick={() => unlock(a)} aria-label={`Unlock ${a.email} after failed sign-ins`}>
                      Unlock
                    </button>
                    {a.mfa ? (
                      <button type="button" class="secondary small" onClick={() => setMfaReset(a)} aria-label={`Reset the second factor of ${a.email}`} data-testid="account-mfa-reset">
                        Reset MFA
                      </button>
                    ) : null}
                    {a.role === 'est' ? (
                      <button type="button" class="secondary small" onClick={() => setAction({ kind: 'restrict', account: a })} aria-label={`Restrict ${a.email}`}>
                        Restrict
                      </button>
                    ) : null}
                    {a.role === 'est' ? (
                      <button type="button" class="secondary small" onClick={() => selfService(a)} aria-label={`${a.selfService ? 'Turn off' : 'Turn on'} self-service for ${a.email}`} data-testid={`self-service-${a.email}`}>
                        {a.selfService ? 'No self-service' : 'Allow self-service'}
                      </button>
                    ) : null}
                    <button type="button" class="secondary small danger" onClick={() => setAction({ kind: 'delete', account: a })} aria-label={`Delete ${a.email}`} disabled={a.email === session.email}>
                      Delete…
                    </button>
                  </td>
                ) : null}
              </tr>
            ))}
          </DataTable>
        </div>
      ) : null}
      {mfaReset ? <MfaResetDialog account={mfaReset} onClose={() => setMfaReset(null)} onChanged={reload} /> : null}
      {action ? (
        <AccountDialog
          action={action}
          onClose={() => setAction(null)}
          onChanged={reload}
        />
      ) : null}
    </>
  );
}
