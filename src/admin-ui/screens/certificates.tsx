/** Certificates: search and filters (kept in the URL, so Back returns to the same list), paging. */
import { api, query } from '../api';
import { Badge } from '../components/badge';
import { SelectField, TextField } from '../components/fields';
import { Empty, LoadError, Loading, PageHeader } from '../components/page';
import { Pager } from '../components/pager';
import { formatDate } from '../format';
import { useLoad, useUrlDraft } from '../hooks';
import { navigate, useLocation } from '../router';
import type { Certificate, Page, Profile } from '../types';

const LIMIT = 25;
const FILTERS = ['q', 'subject', 'san', 'serial', 'profile', 'status', 'expiresWithinDays'] as const;
type Filters = Record<(typeof FILTERS)[number], string>;

let lastList = '/certificates';

/** The list (with its filters and page) the operator last looked at, for "Back to certificates". */
export function lastCertificatesList(): string {
  return lastList;
}

function filtersFrom(params: URLSearchParams): Filters {
  return Object.fromEntries(FILTERS.map((k) => [k, params.get(k) ?? ''])) as Filters;
}

export function CertificatesScreen() {
  const { params } = useLocation();
  const applied = filtersFrom(params);
  const offset = Math.max(0, Number(params.get('offset')) || 0);
  const search = query({ ...applied, offset, limit: LIMIT });
  lastList = `/certificates${query({ ...applied, offset: offset || undefined })}`;
  const { data, error, loading, reload } = useLoad(() => api.get<Page<Certificate>>(`/api/certificates${search}`), search);
  const profiles = useLoad(() => api.get<{ items: Profile[] }>('/api/profiles'), 'profiles');
  // Back and Forward change the URL: show the filters of the list shown
  const [draft, setDraft] = useUrlDraft<Filters>(() => filtersFrom(params), params.toString());
  const set = (k: keyof Filters) => (v: string) => setDraft((d: Filters) => ({ ...d, [k]: v }));
  const go = (f: Filters, off: number) => navigate(`/certificates${query({ ...f, offset: off || undefined })}`);
  const anyFilter = FILTERS.some((k) => applied[k]);

  return (
    <>
      <PageHeader title="Certificates" />
      <form
        class="card filters-card"
        role="search"
        aria-label="Find certificates"
        onSubmit={(e) => {
          e.preventDefault();
          go(draft, 0);
        }}
        data-testid="certificate-search"
      >
        <div class="filters-grid">
          <TextField label="Search" name="q" type="search" value={draft.q} onInput={set('q')} placeholder="Subject, SAN or serial" class="span-2" />
          <TextField label="Subject" name="subject" value={draft.subject} onInput={set('subject')} />
          <TextField label="SAN" name="san" value={draft.san} onInput={set('san')} placeholder="DNS:device.example.com" />
          <TextField label="Serial" name="serial" value={draft.serial} onInput={set('serial')} spellcheck={false} />
          <SelectField
            label="Profile"
            name="profile"
            value={draft.profile}
            onChange={set('profile')}
            options={[{ value: '', label: 'All profiles' }, ...(profiles.data?.items ?? []).map((p) => ({ value: p.label, label: p.label }))]}
          />
          <SelectField
            label="Status"
            name="status"
            value={draft.status}
            onChange={set('status')}
            options={[
              { value: '', label: 'Any status' },
              { value: 'valid', label: 'Valid' },
              { value: 'revoked', label: 'Revoked' },
              { value: 'expired', label: 'Expired' },
            ]}
          />
          <SelectField
            label="Expires within"
            name="expiresWithinDays"
            value={draft.expiresWithinDays}
            onChange={set('expiresWithinDays')}
            options={[
              { value: '', label: 'Any time' },
              { value: '7', label: '7 days' },
              { value: '30', label: '30 days' },
              { value: '90', label: '90 days' },
              { value: '365', label: '1 year' },
            ]}
          />
        </div>
        <div class="form-actions">
          <button type="submit" class="primary" data-testid="certificate-search-submit">
            Search
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
      {data && data.items.length === 0 ? <Empty>{anyFilter ? 'No certificate matches these filters.' : 'No certificates issued yet.'}</Empty> : null}
      {data && data.items.length ? (
        <div class="card flush">
          <div class="table-wrap">
            <table data-testid="certificates-table" aria-busy={loading ? 'true' : undefined}>
              <thead>
                <tr>
                  <th scope="col">Subject</th>
                  <th scope="col">SANs</th>
                  <th scope="col">Serial</th>
                  <th scope="col">Profile</th>
                  <th scope="col">Expires</th>
                  <th scope="col">Status</th>
                </tr>
              </thead>
              <tbody>
                {data.items.map((c) => (
                  <tr key={c.serial} data-testid={`certificate-row-${c.serial}`}>
                    <th scope="row" class="break-anywhere">
                      <a href={`/certificates/${encodeURIComponent(c.serial)}`}>{c.subject || '(empty subject)'}</a>
                    </th>
                    <td class="break-anywhere">{c.sans.length ? <ul class="plain-list">{c.sans.map((s) => <li key={s}>{s}</li>)}</ul> : <span class="muted">none</span>}</td>
                    <td>
                      <code class="serial">{c.serial}</code>
                    </td>
                    <td>{c.profile}</td>
                    <td>{formatDate(c.notAfter)}</td>
                    <td>
                      <Badge status={c.status} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager offset={data.offset} limit={data.limit || LIMIT} total={data.total} what="certificates" onPage={(o) => go(applied, o)} />
        </div>
      ) : null}
    </>
  );
}
