/**
 * The dashboard: certificates by status (a renewed certificate counts once: its successor is
 * valid, it is "renewed"), the CA connectors' status, issuance per day for 30 days, what expires next.
 */
import { X509Certificate } from 'node:crypto';
import { issuesCrls } from '../ca/ca-backend.js';
import { chainWithin, healthOf } from './api-cas.js';
import { ANY_ROLE, type ApiRoute, type CaConnector } from './route.js';
import { Dashboard, problemResponses } from './schemas.js';

const DAY_MS = 86_400_000;
export const DASHBOARD_DAYS = 30;
export const EXPIRING_WITHIN_DAYS = 30;
export const EXPIRING_SHOWN = 20;

/** The last `days` UTC days, oldest first, today last, each with its count (0 when absent). */
export function fillDays(counts: ReadonlyArray<{ day: string; count: number }>, now: Date, days: number): Array<{ day: string; count: number }> {
  const byDay = new Map(counts.map((c) => [c.day, c.count]));
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return Array.from({ length: days }, (_, i) => {
    const day = new Date(today - (days - 1 - i) * DAY_MS).toISOString().slice(0, 10);
    return { day, count: byDay.get(day) ?? 0 };
  });
}

/** How long the dashboard waits for an upstream CA's certificates (kept after the first fetch). */
const CA_CHAIN_WAIT_MS = 1000;

/**
 * One CA's card: healthy as /readyz sees it (the connector's own health, which its requests,
 * refreshes and the readiness probes update; the built-in CA is healthy when loaded), and when the
 * CA certificate ends.
 */
async function caStatus(c: CaConnector) {
  let notAfter: string | null = null;
  let chainProblem: string | null = null;
  try {
    const [cert] = await chainWithin(c, CA_CHAIN_WAIT_MS);
    if (cert) notAfter = new Date(new X509Certificate(cert).validTo).toISOString();
  } catch (err) {
    chainProblem = err instanceof Error ? err.message : String(err);
  }
  const health = healthOf(c);
  const healthy = health.healthy && chainProblem === null;
  return {
    id: c.id, typeLabel: c.admin.label, healthy, url: health.url ?? null,
    problem: healthy ? null : (health.lastError?.message ?? chainProblem ?? 'unhealthy'), notAfter, issuesCrls: issuesCrls(c.backend),
  };
}

const dashboard: ApiRoute = {
  method: 'GET', url: '/api/dashboard', operationId: 'getDashboard', tag: 'dashboard',
  summary: 'Certificates by status, CA connector status, issuance per day for the last 30 days, certificates expiring in the next 30 days',
  access: ANY_ROLE, schema: {},
  responses: { 200: { description: 'the dashboard', schema: Dashboard }, ...problemResponses(401) },
  async handler(_call, ctx) {
    const now = ctx.now();
    const firstDay = fillDays([], now, DASHBOARD_DAYS)[0]!.day;
    const [counts, pendingRequests, perDay, expiring, cas] = await Promise.all([
      ctx.store.countCertificates(now),
      ctx.store.countPendingRequests({ status: 'pending' }),
      ctx.store.issuedPerDay(new Date(`${firstDay}T00:00:00.000Z`)),
      ctx.store.searchCertificates({
        status: 'valid', now, notAfterFrom: now, notAfterTo: new Date(now.getTime() + EXPIRING_WITHIN_DAYS * DAY_MS), order: 'expiry', limit: EXPIRING_SHOWN,
      }),
      Promise.all(ctx.cas.map(caStatus)),
    ]);
    return {
      counts: { ...counts, pendingRequests },
      cas,
      issuedPerDay: fillDays(perDay, now, DASHBOARD_DAYS),
      expiringSoon: expiring.items.map((c) => ({ serial: c.serial, subject: c.subject, profile: c.profile, notAfter: c.notAfter.toISOString(), renewedBy: c.renewedBy })),
    };
  },
};

export const dashboardRoutes: ApiRoute[] = [dashboard];
