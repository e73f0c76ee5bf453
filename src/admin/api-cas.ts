/**
 * The CA connectors (cas.<id> in estuary.yaml) as the Web RA shows them: type, where an upstream
 * CA is reached, its certificates, whether it is healthy, which profiles use it and whether this
 * server publishes its CRL. An admin can test a connector now (an upstream is contacted again).
 */
import { X509Certificate } from 'node:crypto';
import { issuesCrls, reportsHealth, type ConnectorHealth } from '../ca/ca-backend.js';
import type { KeyLocation } from './ca-lifecycle.js';
import { problem } from './problem.js';
import { ADMIN_ONLY, ANY_ROLE, type AdminContext, type ApiRoute, type CaConnector } from './route.js';
import { CaConnectorList, caParams, ConnectorHealth as HealthSchema, problemResponses } from './schemas.js';

const iso = (d: Date | undefined): string | null => (d ? d.toISOString() : null);
const oneLine = (name: string): string => name.replace(/\n/g, ', ');

function healthView(h: ConnectorHealth) {
  return {
    healthy: h.healthy,
    ...(h.url !== undefined ? { url: h.url } : {}),
    lastError: h.lastError ? { message: h.lastError.message, at: h.lastError.at.toISOString() } : null,
    lastSuccessAt: iso(h.lastSuccessAt),
    chainFetchedAt: iso(h.chainFetchedAt),
    ...(h.handshakes !== undefined ? { handshakes: h.handshakes } : {}),
    ...(h.requests !== undefined ? { requests: h.requests } : {}),
    ...(h.credentials !== undefined ? { credentials: h.credentials } : {}),
  };
}

/** The built-in CA is always there; a remote CA reports its own. */
export const healthOf = (c: CaConnector): ConnectorHealth => (reportsHealth(c.backend) ? c.backend.health() : { healthy: true });

/** How long the list waits for an upstream that is fetching its certificates (it may hang until its own timeout). */
export const CHAIN_WAIT_MS = 5_000;

/** The connector's chain, or an error when it fails or does not come within `ms` (the fetch goes on). */
export async function chainWithin(c: CaConnector, ms: number): Promise<readonly Buffer[]> {
  const fetching = c.backend.chain();
  fetching.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`the CA has not answered within ${ms / 1000} s; its certificates are still being fetched`)), ms);
  });
  try {
    return await Promise.race([fetching, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** One connector as GET /api/cas lists it; keyLocation for a built-in CA (where its key is, never the key). */
export async function connectorView(c: CaConnector, profiles: readonly { label: string; ca: string }[], keyLocation: KeyLocation | undefined) {
  let chain: readonly Buffer[] = [];
  let chainError: string | null = null;
  try {
    chain = await chainWithin(c, CHAIN_WAIT_MS);
  } catch (err) {
    // an upstream that is down with no copy of its certificates kept
    chainError = err instanceof Error ? err.message : String(err);
  }
  const certs = chain.map((der) => new X509Certificate(der));
  // read after chain(): a fetch it made is reflected
  const health = healthOf(c);
  return {
    id: c.id,
    type: c.type,
    typeLabel: c.admin.label,
    profileSetsCertificateContent: c.admin.profileSetsCertificateContent,
    issuesCrls: issuesCrls(c.backend),
    url: health.url ?? null,
    subject: certs[0] ? oneLine(certs[0].subject) : null,
    notAfter: certs[0] ? new Date(certs[0].validTo).toISOString() : null,
    chain: certs.map((x) => ({
      subject: oneLine(x.subject), issuer: oneLine(x.issuer),
      notBefore: new Date(x.validFrom).toISOString(), notAfter: new Date(x.validTo).toISOString(),
      fingerprintSha256: x.fingerprint256.replace(/:/g, '').toLowerCase(),
    })),
    chainError,
    health: healthView(health),
    profiles: profiles.filter((p) => p.ca === c.id).map((p) => p.label),
    keyLocation: keyLocation ?? null,
  };
}

/** The key locations of the built-in CAs (empty when the Web RA does not manage CAs). */
export const keyLocationsOf = (ctx: AdminContext): Map<string, KeyLocation> => ctx.caLifecycle?.keyLocations() ?? new Map<string, KeyLocation>();

const list: ApiRoute = {
  method: 'GET', url: '/api/cas', operationId: 'listCas', tag: 'ca-connectors', summary: 'The configured CA connectors: type, certificates, health, profiles using each',
  description: 'An upstream CA that cannot be reached and has no kept copy of its certificates is listed with an empty chain, chainError and health.healthy false. '
    + 'pending lists built-in CAs made with a CSR that wait for their certificate.',
  access: ANY_ROLE, schema: {}, responses: { 200: { description: 'CA connectors', schema: CaConnectorList }, ...problemResponses(401) },
  async handler(_call, ctx) {
    const profiles = await ctx.store.listProfiles();
    const keys = keyLocationsOf(ctx);
    return { items: await Promise.all(ctx.cas.map((c) => connectorView(c, profiles, keys.get(c.id)))), pending: ctx.caLifecycle?.pending() ?? [] };
  },
};

const test: ApiRoute<{ id: string }> = {
  method: 'POST', url: '/api/cas/:id/test', operationId: 'testCa', tag: 'ca-connectors', summary: 'Test a CA connector now',
  description: 'An upstream CA: its /cacerts is fetched again and the RA\'s credentials are tried (without issuing anything). '
    + 'The built-in CA: its certificates are read. The result is written to the audit log (ca.test).',
  access: ADMIN_ONLY, schema: { params: caParams },
  responses: { 200: { description: 'the connector\'s health after the test', schema: HealthSchema }, ...problemResponses(401, 403, 404) },
  async handler({ params, actor }, ctx) {
    const c = ctx.cas.find((x) => x.id === params.id);
    if (!c) throw problem.notFound(`no CA connector "${params.id}"`);
    let health: ConnectorHealth;
    if (reportsHealth(c.backend)) health = await c.backend.probe();
    else {
      try {
        await c.backend.chain();
        health = { healthy: true };
      } catch (err) {
        health = { healthy: false, lastError: { message: err instanceof Error ? err.message : String(err), at: ctx.now() } };
      }
    }
    const detail = health.healthy
      ? `${c.id}: healthy${health.credentials && health.credentials !== 'unknown' ? `, credentials ${health.credentials}` : ''}`
      : `${c.id}: ${health.lastError?.message ?? 'unhealthy'}`;
    await ctx.store.appendAudit({ actor, action: 'ca.test', profile: null, outcome: health.healthy ? 'success' : 'failure', serial: null, detail });
    return healthView(health);
  },
};

export const caRoutes: ApiRoute[] = [list, test];
