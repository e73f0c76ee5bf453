/** Counts by status, CA connector status, issuance per day for 30 days, certificates expiring in the next 30 days. */
import { api } from '../api';
import { BarChart } from '../components/bar-chart';
import { DataTable } from '../components/list-screen';
import { Empty, LoadError, Loading, PageHeader } from '../components/page';
import { formatDate, inCalendarDays } from '../format';
import { useLoad } from '../hooks';
import type { CaStatus, Dashboard } from '../types';

const CARDS: ReadonlyArray<{ key: keyof Dashboard['counts']; label: string; href: string }> = [
  { key: 'valid', label: 'Valid certificates', href: '/certificates?status=valid' },
  { key: 'renewed', label: 'Renewed, still valid', href: '/certificates?status=valid' },
  { key: 'revoked', label: 'Revoked', href: '/certificates?status=revoked' },
  { key: 'expired', label: 'Expired', href: '/certificates?status=expired' },
  { key: 'pendingRequests', label: 'Pending requests', href: '/requests' },
];

export function DashboardScreen() {
  const { data, error, loading, reload } = useLoad(() => api.get<Dashboard>('/api/dashboard'), 'dashboard');
  return (
    <>
      <PageHeader title="Dashboard" />
      <LoadError error={error} onRetry={reload} />
      <Loading show={loading && !data} />
      {data ? (
        <>
          <section aria-labelledby="counts-title">
            <h2 id="counts-title" class="visually-hidden">
              Counts by status
            </h2>
            <ul class="stat-cards" data-testid="dashboard-counts">
              {CARDS.map((c) => (
                <li key={c.key} class={`stat stat-${c.key}`} data-testid={`count-${c.key}`}>
                  <a href={c.href}>
                    <span class="stat-value">{data.counts[c.key]}</span>
                    <span class="stat-label">{c.label}</span>
                  </a>
                </li>
              ))}
            </ul>
          </section>
          <section aria-labelledby="cas-title">
            <h2 id="cas-title">Certificate authorities</h2>
            <ul class="ca-cards" data-testid="dashboard-cas">
              {data.cas.map((c) => (
                <CaCard key={c.id} ca={c} />
              ))}
            </ul>
          </section>
          <div class="dash-grid">
            <section class="card" aria-labelledby="issuance-title">
              <h2 id="issuance-title">Issued per day, last 30 days</h2>
              <BarChart title="Certificates issued per day over the last 30 days" bars={data.issuedPerDay} />
            </section>
            <section class="card" aria-labelledby="expiring-title">
              <h2 id="expiring-title">Expiring in the next 30 days</h2>
              {data.expiringSoon.length === 0 ? (
                <Empty>No certificate expires in the next 30 days.</Empty>
              ) : (
                <div class="table-wrap">
                  <DataTable columns={['Subject', 'Profile', 'Expires']} testId="expiring-table">
                    {data.expiringSoon.map((c) => (
                      <tr key={c.serial}>
                        <th scope="row">
                          <a href={`/certificates/${encodeURIComponent(c.serial)}`}>{c.subject || c.serial}</a>
                        </th>
                        <td>{c.profile}</td>
                        <td>
                          {formatDate(c.notAfter)} <span class="muted">({inCalendarDays(c.notAfter)})</span>
                          {c.renewedBy ? (
                            <>
                              {' '}
                              <a class="tag" href={`/certificates/${encodeURIComponent(c.renewedBy)}`} title="already renewed by this certificate">
                                renewed
                              </a>
                            </>
                          ) : null}
                        </td>
                      </tr>
                    ))}
                  </DataTable>
                </div>
              )}
              <p>
                <a href="/certificates?status=valid&expiresWithinDays=30">All certificates expiring within 30 days</a>
              </p>
            </section>
          </div>
        </>
      ) : null}
    </>
  );
}

/** A CA connector: healthy or not (as /readyz sees it), where it is reached, when its certificate ends. */
function CaCard({ ca }: { ca: CaStatus }) {
  return (
    <li class={`ca-card ${ca.healthy ? 'ca-up' : 'ca-down'}`} data-testid={`ca-card-${ca.id}`}>
      <a href="/cas">
        <span class="ca-card-head">
          <strong>{ca.id}</strong>
          <span class={`badge ${ca.healthy ? 'badge-valid' : 'badge-revoked'}`} data-testid={`ca-health-${ca.id}`}>
            {ca.healthy ? 'Healthy' : 'Unhealthy'}
          </span>
        </span>
        <span class="muted">
          {ca.typeLabel}
          {ca.issuesCrls ? ' · publishes CRLs' : ''}
        </span>
        {ca.url ? <span class="break-anywhere muted">{ca.url}</span> : null}
        <span>{ca.notAfter ? `CA certificate valid until ${formatDate(ca.notAfter)} (${inCalendarDays(ca.notAfter)})` : 'CA certificate not known yet'}</span>
        {ca.problem ? <span class="ca-problem">{ca.problem}</span> : null}
      </a>
    </li>
  );
}
