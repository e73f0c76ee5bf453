/** The audit log, newest first: filter by actor, action, profile and time. */
import { api, query } from '../api';
import { Badge } from '../components/badge';
import { TextField } from '../components/fields';
import { FilterForm, PagedResults, ProfileFilter, useUrlFilters } from '../components/list-screen';
import { PageHeader } from '../components/page';
import { formatDateTime } from '../format';
import { useLoad } from '../hooks';
import type { AuditEvent, Page, Profile } from '../types';

const LIMIT = 50;
const FILTERS = ['actor', 'action', 'profile', 'from', 'to'] as const;

/** Actions the server writes; the field also takes any other text. */
const ACTIONS = [
  'simpleenroll', 'simplereenroll', 'serverkeygen', 'profile.create', 'profile.update', 'account.add', 'account.disable', 'account.enable',
  'account.passwd', 'account.restrict', 'request.approve', 'request.reject', 'cert.revoke', 'ca.test', 'session.signin', 'session.signout', 'session.lockout',
];

/** datetime-local (local time, no zone) ⇄ ISO instant for the API. */
function localToIso(local: string): string {
  const d = new Date(local);
  return local && !Number.isNaN(d.getTime()) ? d.toISOString() : '';
}
function isoToLocal(iso: string): string {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function AuditScreen() {
  const { applied, offset, draft, set, go, anyFilter, clear } = useUrlFilters(FILTERS, '/audit');
  const search = query({ ...applied, offset, limit: LIMIT });
  // the export: every event matching the filters applied, not only this page
  const exportSearch = query({ ...applied });
  const loaded = useLoad(() => api.get<Page<AuditEvent>>(`/api/audit${search}`), search);
  const profiles = useLoad(() => api.get<{ items: Profile[] }>('/api/profiles'), 'profiles');

  return (
    <>
      <PageHeader title="Audit log" lead="Every enrolment and every change, with who did it.">
        <a class="button secondary" href={`/api/audit/export.csv${exportSearch}`} download data-testid="audit-export-csv">
          Export CSV
        </a>
        <a class="button secondary" href={`/api/audit/export.json${exportSearch}`} download data-testid="audit-export-json">
          Export JSON
        </a>
        <button type="button" class="secondary" onClick={loaded.reload}>
          Refresh
        </button>
      </PageHeader>
      <FilterForm label="Filter the audit log" testId="audit-filter" submitLabel="Filter" anyFilter={anyFilter} onSubmit={() => go(draft, 0)} onClear={clear}>
        <TextField label="Actor" name="actor" value={draft.actor} onInput={set('actor')} placeholder="email or subject" spellcheck={false} hint="Exact match." />
        <div class="field" data-testid="field-action">
          <label for="audit-action">Action</label>
          <input
            id="audit-action"
            list="audit-actions"
            value={draft.action}
            onInput={(e) => set('action')(e.currentTarget.value)}
            spellcheck={false}
            aria-describedby="audit-action-hint"
          />
          <p class="hint" id="audit-action-hint">
            Exact match; pick from the list or type.
          </p>
          <datalist id="audit-actions">
            {ACTIONS.map((a) => (
              <option key={a} value={a} />
            ))}
          </datalist>
        </div>
        <ProfileFilter profiles={profiles.data?.items} value={draft.profile} onChange={set('profile')} />
        <TextField label="From" name="from" type="datetime-local" value={isoToLocal(draft.from)} onInput={(v) => set('from')(localToIso(v))} />
        <TextField label="To" name="to" type="datetime-local" value={isoToLocal(draft.to)} onInput={(v) => set('to')(localToIso(v))} />
      </FilterForm>
      <PagedResults
        loaded={loaded}
        empty="No audit events match."
        testId="audit-table"
        columns={['Time', 'Actor', 'Action', 'Profile', 'Outcome', 'Details']}
        limit={LIMIT}
        what="events"
        onPage={(o) => go(applied, o)}
        row={(e) => (
          <tr key={e.id} data-testid="audit-row" data-action={e.action}>
            <th scope="row" class="nowrap">
              <time dateTime={e.at}>{formatDateTime(e.at)}</time>
            </th>
            <td>{e.actor}</td>
            <td class="nowrap">
              <code>{e.action}</code>
            </td>
            <td>{e.profile ?? <span class="muted">—</span>}</td>
            <td>
              <Badge status={e.outcome === 'success' || e.outcome === 'pending' ? e.outcome : 'failure'} label={e.outcome} />
            </td>
            <td class="break-anywhere">
              {e.serial ? (
                <a href={`/certificates/${encodeURIComponent(e.serial)}`}>
                  <code class="serial">{e.serial}</code>
                </a>
              ) : null}
              {e.serial && e.detail ? ' ' : null}
              {e.detail}
              {e.clientIp || e.requestId ? (
                <div class="muted small-text" data-testid="audit-origin">
                  {e.clientIp ? `from ${e.clientIp}` : null}
                  {e.clientIp && e.requestId ? ' · ' : null}
                  {e.requestId ? (
                    <>
                      request <code>{e.requestId}</code>
                    </>
                  ) : null}
                </div>
              ) : null}
            </td>
          </tr>
        )}
      />
    </>
  );
}
