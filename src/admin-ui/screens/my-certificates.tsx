/**
 * Self-service (an EST account signed in): the certificates requested with it, their PEM files, and
 * revoking one whose key is compromised. The server answers only this account's certificates.
 */
import { useState } from 'preact/hooks';
import { api, describeError, query } from '../api';
import { Badge } from '../components/badge';
import { Dialog, DialogActions } from '../components/dialog';
import { TextField, type SubmitEvent } from '../components/fields';
import { CertificateStatusFilter, FilterForm, PagedResults, useUrlFilters } from '../components/list-screen';
import { PageHeader } from '../components/page';
import { formatDate } from '../format';
import { useLoad, useSubmit } from '../hooks';
import { useSession } from '../session';
import { announce } from '../status';
import type { Certificate, Page } from '../types';

const LIMIT = 25;
const FILTERS = ['q', 'status'] as const;

export function MyCertificatesScreen() {
  const session = useSession();
  const { applied, offset, draft, set, go, anyFilter, clear } = useUrlFilters(FILTERS, '/');
  const search = query({ ...applied, offset, limit: LIMIT });
  const loaded = useLoad(() => api.get<Page<Certificate>>(`/api/self/certificates${search}`), search);
  const [revoking, setRevoking] = useState<Certificate>();
  const base = (c: Certificate) => `/api/self/certificates/${encodeURIComponent(c.serial)}`;

  return (
    <>
      <PageHeader title="My certificates" lead={<>The certificates requested with {session.email}.</>} />
      <FilterForm label="Find my certificates" testId="my-certificate-search" submitLabel="Search" anyFilter={anyFilter} onSubmit={() => go(draft, 0)} onClear={clear}>
        <TextField label="Search" name="q" type="search" value={draft.q} onInput={set('q')} placeholder="Subject, SAN or serial" class="span-2" />
        <CertificateStatusFilter value={draft.status} onChange={set('status')} />
      </FilterForm>
      <PagedResults
        loaded={loaded}
        empty={anyFilter ? 'None of your certificates matches these filters.' : 'No certificate has been issued to this account yet.'}
        testId="my-certificates-table"
        columns={['Subject', 'SANs', 'Serial', 'Issued', 'Expires', 'Status', 'Actions']}
        limit={LIMIT}
        what="certificates"
        onPage={(o) => go(applied, o)}
        row={(c) => (
          <tr key={c.serial} data-testid={`my-certificate-row-${c.serial}`}>
            <th scope="row" class="break-anywhere">{c.subject || '(empty subject)'}</th>
            <td class="break-anywhere">{c.sans.length ? <ul class="plain-list">{c.sans.map((s) => <li key={s}>{s}</li>)}</ul> : <span class="muted">none</span>}</td>
            <td>
              <code class="serial">{c.serial}</code>
            </td>
            <td>{formatDate(c.notBefore)}</td>
            <td>{formatDate(c.notAfter)}</td>
            <td>
              <Badge status={c.status} />
            </td>
            <td class="actions">
              <a class="button secondary small" href={`${base(c)}/pem`} download data-testid={`download-${c.serial}`}>
                PEM
              </a>{' '}
              <a class="button secondary small" href={`${base(c)}/chain.pem`} download>
                With chain
              </a>{' '}
              {c.status === 'valid' ? (
                <button type="button" class="danger small" onClick={() => setRevoking(c)} data-testid={`revoke-${c.serial}`}>
                  Revoke…
                </button>
              ) : null}
            </td>
          </tr>
        )}
      />
      {revoking ? (
        <RevokeOwn
          cert={revoking}
          onClose={() => setRevoking(undefined)}
          onDone={() => {
            setRevoking(undefined);
            loaded.reload();
          }}
        />
      ) : null}
    </>
  );
}

function RevokeOwn(props: { cert: Certificate; onClose: () => void; onDone: () => void }) {
  const { busy, error, run } = useSubmit<string | undefined>(undefined, describeError);
  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    await run(async () => {
      await api.post(`/api/self/certificates/${encodeURIComponent(props.cert.serial)}/revoke`);
      announce(`Certificate ${props.cert.serial} revoked (key compromise); the next CRL lists it`);
      props.onDone();
    });
  };
  return (
    <Dialog title="Revoke certificate" onClose={props.onClose} testId="revoke-own-dialog">
      <form onSubmit={submit} noValidate>
        <p>
          Revoke <strong>{props.cert.subject || props.cert.serial}</strong> (serial <code class="serial">{props.cert.serial}</code>) because its private key is
          compromised? It stops working at once for EST, and relying parties see it on the next CRL. This cannot be undone.
        </p>
        {error ? (
          <p class="notice error" role="alert">
            {error}
          </p>
        ) : null}
        <DialogActions testId="revoke-own-confirm" busy={busy} onCancel={props.onClose} class="primary danger">
          Revoke certificate
        </DialogActions>
      </form>
    </Dialog>
  );
}
