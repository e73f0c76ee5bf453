/**
 * The CA connectors of estuary.yaml (cas.<id>): type, where an upstream CA is reached, whether it
 * answers, its last error, where a built-in CA's key is, and its certificates with fingerprints and
 * expiry. Admins can test one now, make a new built-in CA, and upload the certificate of one waiting for it.
 */
import { useState } from 'preact/hooks';
import { api, describeError } from '../api';
import { Badge } from '../components/badge';
import { CsrBox, ImportCertificateDialog, NewCaDialog } from '../components/ca-dialogs';
import { DataTable } from '../components/list-screen';
import { Empty, LoadError, Loading, PageHeader } from '../components/page';
import { daysUntil, formatDate, formatDateTime, formatFingerprint } from '../format';
import { useLoad } from '../hooks';
import { useSession } from '../session';
import { announce } from '../status';
import type { CaConnector, CaList, ConnectorHealth, KeyLocation, PendingCa } from '../types';

function HealthBadge({ health }: { health: ConnectorHealth }) {
  return health.healthy ? <Badge status="success" label="Healthy" /> : <Badge status="failure" label="Unreachable" />;
}

function TestButton({ ca, onDone }: { ca: CaConnector; onDone: () => void }) {
  const [busy, setBusy] = useState(false);
  const test = async () => {
    setBusy(true);
    try {
      const h = await api.post<ConnectorHealth>(`/api/cas/${encodeURIComponent(ca.id)}/test`, {});
      if (h.healthy) announce(`CA connector ${ca.id} answered${h.credentials === 'accepted' ? '; the RA\'s credentials are accepted' : ''}`);
      else announce(`CA connector ${ca.id} failed the test: ${h.lastError?.message ?? 'unreachable'}`, 'error');
      onDone();
    } catch (err) {
      announce(`CA connector ${ca.id} could not be tested: ${describeError(err)}`, 'error');
    } finally {
      setBusy(false);
    }
  };
  return (
    <button type="button" class="secondary small" onClick={test} disabled={busy} data-testid={`ca-test-${ca.id}`} aria-label={`Test CA connector ${ca.id} now`}>
      {busy ? 'Testing…' : 'Test now'}
    </button>
  );
}

function KeyWhere({ at }: { at: KeyLocation }) {
  return at.kind === 'file' ? (
    <>
      file <code>{at.path}</code>
    </>
  ) : (
    <>
      PKCS#11 token <code>{at.uri}</code>
    </>
  );
}

function PendingCas({ pending, admin, onUpload }: { pending: PendingCa[]; admin: boolean; onUpload: (p: PendingCa) => void }) {
  if (!pending.length) return null;
  return (
    <section class="card" aria-labelledby="cas-pending" data-testid="cas-pending">
      <h2 id="cas-pending">Waiting for their certificate</h2>
      {pending.map((p) => (
        <div key={p.id} class="pending-ca" data-testid={`ca-pending-${p.id}`}>
          <h3>
            {p.id} <span class="muted">({p.subject})</span>
          </h3>
          <p>
            Key: <KeyWhere at={p.keyLocation} />. Have the CSR signed by the external CA, then upload the certificate.
          </p>
          <CsrBox pending={p} />
          {admin ? (
            <div class="form-actions">
              <button type="button" class="primary" onClick={() => onUpload(p)} data-testid={`ca-upload-${p.id}`}>
                Upload certificate
              </button>
            </div>
          ) : null}
        </div>
      ))}
    </section>
  );
}

function Chain({ ca }: { ca: CaConnector }) {
  if (ca.chain.length === 0) {
    return <p class="notice error" data-testid={`ca-chain-error-${ca.id}`}>No CA certificate is known: {ca.chainError ?? 'the CA has not answered yet'}</p>;
  }
  return (
    <div class="table-wrap bordered">
      <DataTable columns={['Certificate', 'Issuer', 'SHA-256 fingerprint', 'Expires']} testId={`ca-chain-${ca.id}`} caption={`Certificates of ${ca.id}, issuing CA first`}>
        {ca.chain.map((c) => {
          const days = daysUntil(c.notAfter);
          return (
            <tr key={c.fingerprintSha256}>
              <th scope="row">{c.subject}</th>
              <td>{c.issuer}</td>
              <td>
                <code class="fingerprint">{formatFingerprint(c.fingerprintSha256)}</code>
              </td>
              <td>
                {formatDate(c.notAfter)}
                {days < 0 ? <Badge status="expired" label="expired" /> : days <= 30 ? <span class="hint warning"> in {days} days</span> : null}
              </td>
            </tr>
          );
        })}
      </DataTable>
    </div>
  );
}

export function CaConnectorsScreen() {
  const session = useSession();
  const { data, error, loading, reload } = useLoad(() => api.get<CaList>('/api/cas'), 'cas');
  const items = data?.items ?? [];
  const admin = session.role === 'admin';
  const [dialog, setDialog] = useState<{ kind: 'new' } | { kind: 'import'; pending: PendingCa }>();
  return (
    <>
      <PageHeader title="CA connectors" lead="The CAs that sign for the profiles (cas in estuary.yaml): the built-in CA, or an upstream CA reached over EST.">
        <button type="button" class="secondary" onClick={reload} disabled={loading} data-testid="cas-refresh">
          Refresh
        </button>
        {admin ? (
          <button type="button" class="primary" onClick={() => setDialog({ kind: 'new' })} disabled={!data} data-testid="cas-new">
            New CA
          </button>
        ) : null}
      </PageHeader>
      {dialog?.kind === 'new' ? <NewCaDialog cas={items} onClose={() => setDialog(undefined)} onChanged={reload} /> : null}
      {dialog?.kind === 'import' ? <ImportCertificateDialog pending={dialog.pending} onClose={() => setDialog(undefined)} onChanged={reload} /> : null}
      <LoadError error={error} onRetry={reload} />
      <Loading show={loading && !data} />
      {data && items.length === 0 ? <Empty>No CA connectors are configured.</Empty> : null}
      {items.length ? (
        <div class="table-wrap card flush">
          <DataTable columns={['Connector', 'Type', 'URL', 'Health', 'Last error', 'Profiles']} actions={admin} testId="cas-table" busy={loading}>
            {items.map((ca) => (
              <tr key={ca.id} data-testid={`ca-row-${ca.id}`}>
                <th scope="row">{ca.id}</th>
                <td data-testid="ca-type">{ca.typeLabel}</td>
                <td>{ca.url ? <code class="ca-url">{ca.url}</code> : <span class="muted">this server</span>}</td>
                <td data-testid="ca-health">
                  <HealthBadge health={ca.health} />
                  {ca.health.lastSuccessAt ? <div class="hint">last answer {formatDateTime(ca.health.lastSuccessAt)}</div> : null}
                </td>
                <td data-testid="ca-last-error">
                  {ca.health.lastError ? (
                    <>
                      {ca.health.lastError.message}
                      <div class="hint">{formatDateTime(ca.health.lastError.at)}</div>
                    </>
                  ) : (
                    <span class="muted">none</span>
                  )}
                </td>
                <td>{ca.profiles.length ? ca.profiles.join(', ') : <span class="muted">none</span>}</td>
                {admin ? (
                  <td class="actions">
                    <TestButton ca={ca} onDone={reload} />
                  </td>
                ) : null}
              </tr>
            ))}
          </DataTable>
        </div>
      ) : null}
      {items.map((ca) => (
        <section class="card" key={ca.id} aria-labelledby={`ca-${ca.id}`} data-testid={`ca-card-${ca.id}`}>
          <h2 id={`ca-${ca.id}`}>
            {ca.id} <span class="muted">({ca.typeLabel})</span>
          </h2>
          {!ca.profileSetsCertificateContent ? (
            <p class="notice info">Key usage, extended key usage and validity of its certificates are decided by this CA, not by the profiles.</p>
          ) : null}
          {!ca.issuesCrls ? (
            <p class="notice info" data-testid={`ca-no-crl-${ca.id}`}>
              This server publishes no CRL for {ca.id}: a revocation recorded here must also be made at the upstream CA, because EST has no revocation operation.
            </p>
          ) : null}
          {ca.keyLocation ? (
            <p data-testid={`ca-key-${ca.id}`}>
              Key: <KeyWhere at={ca.keyLocation} />
            </p>
          ) : null}
          <Chain ca={ca} />
        </section>
      ))}
      <PendingCas pending={data?.pending ?? []} admin={admin} onUpload={(pending) => setDialog({ kind: 'import', pending })} />
    </>
  );
}
