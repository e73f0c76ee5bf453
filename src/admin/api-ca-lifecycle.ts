/**
 * Built-in CAs made from the Web RA (admins only, each attempt in the audit log): POST /api/cas makes
 * the key (a file under the data directory, or in a PKCS#11 token) and the certificate (self-signed,
 * signed by a configured built-in CA, or a CSR for an external CA); POST /api/cas/{id}/certificate
 * brings the certificate signed for such a CSR. The new connector is in service when the answer comes.
 */
import type { CaLifecycle, KeyLocation, NewCaRequest } from './ca-lifecycle.js';
import { connectorView, keyLocationsOf } from './api-cas.js';
import { RaError } from '../ra/errors.js';
import { problem, ProblemError } from './problem.js';
import { ADMIN_ONLY, ANY_ROLE, type AdminContext, type ApiRoute } from './route.js';
import { CaCertificateImport, CaConnectorInfo, CaCreate, caParams, PendingCaInfo, problemResponses } from './schemas.js';

const where = (k: KeyLocation): string => (k.kind === 'file' ? k.path : k.uri);

function lifecycleOf(ctx: AdminContext): CaLifecycle {
  if (!ctx.caLifecycle) throw new ProblemError('not-implemented', 'this server does not manage CAs from the Web RA');
  return ctx.caLifecycle;
}

/** A refusal that names an input field ("subject: ...") is shown beside that field in the UI. */
const FIELD_PREFIX = /^(id|subject|keyAlgorithm|issuer\.parent|pkcs11\.(?:uri|module|pinFile|pinEnv)|certificate|chain\.\d+): (.+)$/s;
function withField(err: unknown): unknown {
  if (!(err instanceof RaError) || err.code !== 'bad-request') return err;
  const m = FIELD_PREFIX.exec(err.message);
  return m ? new ProblemError('validation', err.message, { errors: [{ field: m[1]!, message: m[2]! }] }) : err;
}

/** Runs a CA change; the outcome, success or failure, goes to the audit log as `action` by the signed-in admin. */
async function audited<T>(ctx: AdminContext, actor: string, action: string, id: string, run: () => Promise<{ result: T; detail: string }>): Promise<T> {
  try {
    const { result, detail } = await run();
    await ctx.store.appendAudit({ actor, action, profile: null, outcome: 'success', serial: null, detail });
    return result;
  } catch (err) {
    await ctx.store.appendAudit({ actor, action, profile: null, outcome: 'failure', serial: null, detail: `${id}: ${err instanceof Error ? err.message : String(err)}` });
    throw withField(err);
  }
}

/** The connector now in service, as GET /api/cas lists it. */
async function listed(ctx: AdminContext, id: string) {
  const c = ctx.cas.find((x) => x.id === id);
  if (!c) throw problem.notFound(`no CA connector "${id}"`);
  return connectorView(c, await ctx.store.listProfiles(), keyLocationsOf(ctx).get(id));
}

const create: ApiRoute<unknown, unknown, NewCaRequest> = {
  method: 'POST', url: '/api/cas', operationId: 'createCa', tag: 'ca-connectors', summary: 'Make a new built-in CA',
  description: 'Like `estuary ca create`: the key is made in software under the data directory (ca/<id>-key.pem) or in a PKCS#11 token; '
    + 'the certificate is self-signed (a new root), signed by a configured built-in CA (issuer.parent), or left to an external CA: issuer.csr '
    + 'answers 202 with the CSR (kept as ca/<id>.csr.pem) and the CA waits for POST /api/cas/{id}/certificate. Otherwise cas.<id> is added to '
    + 'estuary.yaml and the connector is in service when the answer comes (201). Written to the audit log (ca.create).',
  access: ADMIN_ONLY, schema: { body: CaCreate },
  responses: {
    201: { description: 'the new connector, as GET /api/cas lists it', schema: CaConnectorInfo },
    202: { description: 'the key is made; the CSR waits for an external CA', schema: PendingCaInfo },
    ...problemResponses(400, 401, 403),
    502: { description: 'cas.<id> was written but the connector could not be opened (the server log says why)' },
  },
  async handler({ body, actor, reply }, ctx) {
    const lifecycle = lifecycleOf(ctx);
    return audited<unknown>(ctx, actor, 'ca.create', body.id, async () => {
      const made = await lifecycle.create(body);
      const detail = `${body.id}: ${body.subject}, key ${where(made.keyLocation)}, ${made.how}`;
      if (made.csrPem !== undefined) {
        reply.code(202);
        return { result: { id: body.id, subject: body.subject, keyLocation: made.keyLocation, csrPem: made.csrPem }, detail };
      }
      reply.code(201);
      return { result: await listed(ctx, body.id), detail };
    });
  },
};

const importCertificate: ApiRoute<{ id: string }, unknown, { certificate: string; chain?: string[] }> = {
  method: 'POST', url: '/api/cas/:id/certificate', operationId: 'importCaCertificate', tag: 'ca-connectors', summary: 'Bring the certificate signed for a pending CA',
  description: 'Like `estuary ca import`: the certificate must be a CA certificate for the key made by POST /api/cas with issuer.csr; chain '
    + '(issuer first, up to the root) must sign it link by link. cas.<id> is added and in service when the answer comes. Written to the audit log (ca.import).',
  access: ADMIN_ONLY, schema: { params: caParams, body: CaCertificateImport },
  responses: {
    200: { description: 'the new connector, as GET /api/cas lists it', schema: CaConnectorInfo },
    ...problemResponses(400, 401, 403),
    502: { description: 'cas.<id> was written but the connector could not be opened (the server log says why)' },
  },
  async handler({ params, body, actor }, ctx) {
    const lifecycle = lifecycleOf(ctx);
    return audited(ctx, actor, 'ca.import', params.id, async () => {
      const c = await lifecycle.importCertificate(params.id, body.certificate, body.chain ?? []);
      return { result: await listed(ctx, params.id), detail: `${params.id}: ${c.subject}, issued by ${c.issuer}` };
    });
  },
};

const csr: ApiRoute<{ id: string }> = {
  method: 'GET', url: '/api/cas/pending/:id/csr.pem', operationId: 'downloadCaCsr', tag: 'ca-connectors', summary: 'The CSR of a CA waiting for its certificate, as a PEM file',
  access: ANY_ROLE, schema: { params: caParams },
  responses: { 200: { description: 'PKCS#10 (RFC 2986) in PEM', contentType: 'application/x-pem-file', schema: { type: 'string' } }, ...problemResponses(401, 404) },
  async handler({ params, reply }, ctx) {
    const pending = ctx.caLifecycle?.pending().find((p) => p.id === params.id);
    if (!pending?.csrPem) throw problem.notFound(`no CSR of a CA "${params.id}" waiting for its certificate is kept here`);
    return reply.type('application/x-pem-file').header('content-disposition', `attachment; filename="${params.id}.csr.pem"`).send(pending.csrPem);
  },
};

export const caLifecycleRoutes: ApiRoute[] = [create, importCertificate, csr];
