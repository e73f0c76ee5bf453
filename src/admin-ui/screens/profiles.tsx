/** Certification profiles: one per EST label, with its status and EST URL; clone, delete or retire. */
import { useState } from 'preact/hooks';
import { api } from '../api';
import { Badge } from '../components/badge';
import { CopyButton } from '../components/copy-button';
import { DataTable } from '../components/list-screen';
import { Empty, LoadError, Loading, PageHeader } from '../components/page';
import { can, useLoad } from '../hooks';
import { mechanismLabel } from '../profile-labels';
import { useSession } from '../session';
import type { CaConnector, Profile } from '../types';
import { ProfileDialog, type ProfileAction } from '../components/profile-dialogs';

export function ProfilesScreen() {
  const session = useSession();
  const { data, error, loading, reload } = useLoad(async () => {
    const [profiles, cas] = await Promise.all([api.get<{ items: Profile[] }>('/api/profiles'), api.get<{ items: CaConnector[] }>('/api/cas')]);
    return { items: profiles.items, cas: cas.items };
  }, 'profiles');
  const mayWrite = can(session.role, 'profiles.write');
  const [action, setAction] = useState<ProfileAction | null>(null);
  const items = data?.items ?? [];
  const caOf = (id: string) => data?.cas.find((c) => c.id === id);
  return (
    <>
      <PageHeader title="Certification profiles" lead="Each profile is one EST label: who may enrol, how they authenticate, and what gets issued.">
        {mayWrite ? (
          <a class="button primary" href="/profiles/new" data-testid="new-profile">
            New profile
          </a>
        ) : null}
      </PageHeader>
      <LoadError error={error} onRetry={reload} />
      <Loading show={loading && !data} />
      {data && items.length === 0 ? <Empty>No certification profiles yet.</Empty> : null}
      {items.length ? (
        <div class="table-wrap card flush">
          <DataTable columns={['Label', 'EST', 'Authentication', 'CA connector', 'Validity', 'Approval', 'EST URL']} actions={mayWrite} testId="profiles-table">
            {items.map((p) => (
              <tr key={p.label} data-testid={`profile-row-${p.label}`}>
                <th scope="row">
                  <a href={`/profiles/${encodeURIComponent(p.label)}`}>{p.label}</a>
                  {p.default ? (
                    <>
                      {' '}
                      <span title="Also served on the unlabeled EST path (est.defaultProfile)">
                        <Badge status="default" label="Default" />
                      </span>
                    </>
                  ) : null}
                </th>
                <td>{p.retiredAt ? <Badge status="retired" label="Retired" /> : p.enabled ? <Badge status="enabled" label="Enabled" /> : <Badge status="disabled" label="Disabled" />}</td>
                <td>{mechanismLabel(p.auth)}</td>
                <td data-testid="profile-ca">
                  {p.ca}
                  {caOf(p.ca) ? <div class="hint">{caOf(p.ca)!.typeLabel}{caOf(p.ca)!.profileSetsCertificateContent ? '' : ': validity and usages set upstream'}</div> : null}
                </td>
                <td data-testid="profile-validity">{p.validity}</td>
                <td>{p.approval === 'manual' ? 'Manual' : 'Automatic'}</td>
                <td class="url-cell">
                  <code data-testid="est-url">{p.estUrl}</code>
                  <CopyButton value={p.estUrl} what={`EST URL of ${p.label}`} />
                </td>
                {mayWrite ? (
                  <td class="actions">
                    <button type="button" class="secondary small" onClick={() => setAction({ kind: 'clone', profile: p })} aria-label={`Clone ${p.label}`}>
                      Clone
                    </button>
                    {p.retiredAt ? null : (
                      <button type="button" class="secondary small danger" onClick={() => setAction({ kind: 'remove', profile: p })} aria-label={`Delete or retire ${p.label}`} disabled={p.default} title={p.default ? 'The default profile cannot be removed' : undefined}>
                        Delete…
                      </button>
                    )}
                  </td>
                ) : null}
              </tr>
            ))}
          </DataTable>
        </div>
      ) : null}
      {action ? <ProfileDialog action={action} onClose={() => setAction(null)} onChanged={reload} /> : null}
    </>
  );
}
