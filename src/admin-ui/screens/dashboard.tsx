/** Counts by status, issuance per day for 30 days, certificates expiring in the next 30 days. */
import { api } from '../api';
import { BarChart } from '../components/bar-chart';
import { DataTable } from '../components/list-screen';
import { Empty, LoadError, Loading, PageHeader } from '../components/page';
import { daysUntil, formatDate } from '../format';
import { useLoad } from '../hooks';
import type { Dashboard } from '../types';

const CARDS: ReadonlyArray<{ key: keyof Dashboard['counts']; label: string; href: string }> = [
  { key: 'valid', label: 'Valid certificates', href: '/certificates?status=valid' },
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
                          {formatDate(c.notAfter)} <span class="muted">({inDays(daysUntil(c.notAfter))})</span>
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

function inDays(n: number): string {
  if (n <= 0) return 'today';
  return n === 1 ? 'in 1 day' : `in ${n} days`;
}
