/**
 * Certificates: search, filters and order (kept in the URL, so Back returns to the same list),
 * paging, and the filtered list downloaded as CSV or JSON (the server streams it).
 */
import { api, query } from '../api';
import { Badge } from '../components/badge';
import { SelectField, TextField } from '../components/fields';
import { CertificateStatusFilter, FilterForm, PagedResults, ProfileFilter, useUrlFilters } from '../components/list-screen';
import { PageHeader } from '../components/page';
import { formatDate, formatDateTime } from '../format';
import { useLoad } from '../hooks';
import type { Certificate, Page, Profile } from '../types';

const LIMIT = 25;
const FILTERS = ['q', 'subject', 'san', 'serial', 'profile', 'status', 'expiresWithinDays', 'order'] as const;

let lastList = '/certificates';

/** The list (with its filters and page) the operator last looked at, for "Back to certificates". */
export function lastCertificatesList(): string {
  return lastList;
}

export function CertificatesScreen() {
  const { applied, offset, draft, set, go, anyFilter, clear } = useUrlFilters(FILTERS, '/certificates');
  const search = query({ ...applied, offset, limit: LIMIT });
  lastList = `/certificates${query({ ...applied, offset: offset || undefined })}`;
  const loaded = useLoad(() => api.get<Page<Certificate>>(`/api/certificates${search}`), search);
  const profiles = useLoad(() => api.get<{ items: Profile[] }>('/api/profiles'), 'profiles');

  return (
    <>
      <PageHeader title="Certificates">
        <span class="export-links" data-testid="certificate-export">
          <a class="button secondary" href={`/api/certificates/export${query({ ...applied, format: 'csv' })}`} download data-testid="export-csv">
            Export CSV
          </a>
          <a class="button secondary" href={`/api/certificates/export${query({ ...applied, format: 'json' })}`} download data-testid="export-json">
            Export JSON
          </a>
        </span>
      </PageHeader>
      <FilterForm label="Find certificates" testId="certificate-search" submitLabel="Search" anyFilter={anyFilter} onSubmit={() => go(draft, 0)} onClear={clear}>
        <TextField label="Search" name="q" type="search" value={draft.q} onInput={set('q')} placeholder="Subject, SAN or serial" class="span-2" />
        <TextField label="Subject" name="subject" value={draft.subject} onInput={set('subject')} />
        <TextField label="SAN" name="san" value={draft.san} onInput={set('san')} placeholder="DNS:device.example.com" />
        <TextField label="Serial" name="serial" value={draft.serial} onInput={set('serial')} spellcheck={false} />
        <ProfileFilter profiles={profiles.data?.items} value={draft.profile} onChange={set('profile')} />
        <CertificateStatusFilter value={draft.status} onChange={set('status')} />
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
        <SelectField
          label="Order"
          name="order"
          value={draft.order}
          onChange={set('order')}
          options={[
            { value: '', label: 'Newest issued first' },
            { value: 'expiry', label: 'Soonest expiry first' },
          ]}
        />
      </FilterForm>
      <PagedResults
        loaded={loaded}
        empty={anyFilter ? 'No certificate matches these filters.' : 'No certificates issued yet.'}
        testId="certificates-table"
        columns={['Subject', 'SANs', 'Serial', 'Profile', applied.order === 'expiry' ? 'Issued' : 'Issued ↓', 'Requester', applied.order === 'expiry' ? 'Expires ↑' : 'Expires', 'Status']}
        limit={LIMIT}
        what="certificates"
        onPage={(o) => go(applied, o)}
        row={(c) => (
          <tr key={c.serial} data-testid={`certificate-row-${c.serial}`}>
            <th scope="row" class="break-anywhere">
              <a href={`/certificates/${encodeURIComponent(c.serial)}`}>{c.subject || '(empty subject)'}</a>
            </th>
            <td class="break-anywhere">{c.sans.length ? <ul class="plain-list">{c.sans.map((s) => <li key={s}>{s}</li>)}</ul> : <span class="muted">none</span>}</td>
            <td>
              <code class="serial">{c.serial}</code>
            </td>
            <td>{c.profile}</td>
            <td title={formatDateTime(c.createdAt)}>{formatDate(c.createdAt)}</td>
            <td class="break-anywhere">{c.requester}</td>
            <td>{formatDate(c.notAfter)}</td>
            <td>
              <Badge status={c.status} />
              {c.renewedBy ? <span class="muted"> renewed</span> : null}
            </td>
          </tr>
        )}
      />
    </>
  );
}
