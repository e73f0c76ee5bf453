/** The audit log, newest first: filter by actor, action, profile and time. */
import { api, query } from '../api';
import { Badge } from '../components/badge';
import { SelectField, TextField } from '../components/fields';
import { Empty, LoadError, Loading, PageHeader } from '../components/page';
import { Pager } from '../components/pager';
import { formatDateTime } from '../format';
import { useLoad, useUrlDraft } from '../hooks';
import { navigate, useLocation } from '../router';
import type { AuditEvent, Page, Profile } from '../types';

const LIMIT = 50;
const FILTERS = ['actor', 'action', 'profile', 'from', 'to'] as const;
type Filters = Record<(typeof FILTERS)[number], string>;

/** Actions the server writes; the field also takes any other text. */
const ACTIONS = [
  'simpleenroll', 'simplereenroll', 'serverkeygen', 'profile.create', 'profile.update', 'account.add', 'account.disable', 'account.enable',
  'account.passwd', 'account.restrict', 'request.approve', 'request.reject', 'cert.revoke', 'session.signin', 'session.signout', 'session.lockout',
];

function filtersFrom(params: URLSearchParams): Filters {
  return Object.fromEntries(FILTERS.map((k) => [k, params.get(k) ?? ''])) as Filters;
}

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
  const { params } = useLocation();
  const applied = filtersFrom(params);
  const offset = Math.max(0, Number(params.get('offset')) || 0);
  const search = query({ ...applied, offset, limit: LIMIT });
  const { data, error, loading, reload } = useLoad(() => api.get<Page<AuditEvent>>(`/api/audit${search}`), search);
  const profiles = useLoad(() => api.get<{ items: Profile[] }>('/api/profiles'), 'profiles');
  // Back and Forward change the URL: show the filters of the list shown
  const [draft, setDraft] = useUrlDraft<Filters>(() => filtersFrom(params), params.toString());
  const set = (k: keyof Filters) => (v: string) => setDraft((d: Filters) => ({ ...d, [k]: v }));
  const go = (f: Filters, off: number) => navigate(`/audit${query({ ...f, offset: off || undefined })}`);
  const anyFilter = FILTERS.some((k) => applied[k]);

  return (
    <>
      <PageHeader title="Audit log" lead="Every enrolment and every change, with who did it.">
        <button type="button" class="secondary" onClick={reload}>
          Refresh
        </button>
      </PageHeader>
      <form
        class="card filters-card"
        role="search"
        aria-label="Filter the audit log"
        data-testid="audit-filter"
        onSubmit={(e) => {
          e.preventDefault();
          go(draft, 0);
        }}
      >
        <div class="filters-grid">
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
          <SelectField
            label="Profile"
            name="profile"
            value={draft.profile}
            onChange={set('profile')}
            options={[{ value: '', label: 'All profiles' }, ...(profiles.data?.items ?? []).map((p) => ({ value: p.label, label: p.label }))]}
          />
          <TextField label="From" name="from" type="datetime-local" value={isoToLocal(draft.from)} onInput={(v) => set('from')(localToIso(v))} />
          <TextField label="To" name="to" type="datetime-local" value={isoToLocal(draft.to)} onInput={(v) => set('to')(localToIso(v))} />
        </div>
        <div class="form-actions">
          <button type="submit" class="primary" data-testid="audit-filter-submit">
            Filter
          </button>
          {anyFilter ? (
            <button
              type="button"
              class="secondary"
              onClick={() => {
                const empty = filtersFrom(new URLSearchParams());
                setDraft(empty);
                go(empty, 0);
              }}
            >
              Clear filters
            </button>
          ) : null}
        </div>
      </form>
      <LoadError error={error} onRetry={reload} />
      <Loading show={loading && !data} />
      {data && data.items.length === 0 ? <Empty>No audit events match.</Empty> : null}
      {data && data.items.length ? (
        <div class="card flush">
          <div class="table-wrap">
            <table data-testid="audit-table" aria-busy={loading ? 'true' : undefined}>
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Action</th>
                  <th scope="col">Profile</th>
                  <th scope="col">Outcome</th>
                  <th scope="col">Details</th>
                </tr>
              </thead>
              <tbody>
                {data.items.map((e) => (
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
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager offset={data.offset} limit={data.limit || LIMIT} total={data.total} what="events" onPage={(o) => go(applied, o)} />
        </div>
      ) : null}
    </>
  );
}
