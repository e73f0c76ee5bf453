/**
 * An upstream Estuary as a separate `estuary serve` process (dist/cli/main.js) on its own home and
 * port, and an RA home whose `cas.<id>: type: est` connectors point at it: the RA role of RFC 7030
 * tested against a real EST server over real TLS. Build dist first (npm run build).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withStore } from '../../src/cli/context.js';
import { setCaConnector } from '../../src/cli/config-edit.js';
import { certificateFields } from '../../src/pki/certificate.js';
import { defaultProfile } from '../../src/ra/default-profile.js';
import type { Store } from '../../src/store/store.js';
import type { NewProfile } from '../../src/ra/model.js';
import { portBelowEphemeralRange, serveProcess } from './serve-process.js';
import { certsFrom, csrBody, estRequest, pem } from './est-http.js';
import { makeHome, type TestHome } from './home.js';
import { makeCsr } from './keys.js';

export interface Upstream extends TestHome {
  port: number;
  /** https://127.0.0.1:PORT (what the RA's connector `url` is). */
  url: string;
  /** https://127.0.0.1:PORT/.well-known/est */
  base: string;
  /** stdout and stderr of every run, appended. */
  logFile: string;
  issuingPem: string;
  running(): boolean;
  /** `estuary serve` on the same home and port; resolves once it listens. */
  start(): Promise<void>;
  /** SIGTERM (the server drains), SIGKILL after 15 s, or SIGKILL at once (a crash); resolves once the process is gone. */
  stop(how?: 'term' | 'kill'): Promise<void>;
}

/** Profiles the upstream gets besides init's `default`, each from the defaults with these changes. */
export type UpstreamProfiles = Record<string, Partial<NewProfile>>;

/**
 * A fresh upstream home with these profiles (or a function of the home, e.g. for its root as a client trust anchor) (written to its store before the process starts;
 * `ra-certs` issues RA certificates: id-kp-cmcRA + clientAuth), and the process started.
 */
export async function startUpstream(profiles: UpstreamProfiles | ((home: TestHome) => UpstreamProfiles) = {}): Promise<Upstream> {
  const h = await makeHome();
  const wanted = typeof profiles === 'function' ? profiles(h) : profiles;
  await withStore({ home: h.home }, async (store) => {
    await store.createProfile({ ...defaultProfile('ra-certs', 'default'), extendedKeyUsage: ['cmcRA', 'clientAuth'] });
    for (const [label, changes] of Object.entries(wanted)) await store.createProfile({ ...defaultProfile(label, 'default'), ...changes, label });
  });
  const port = await portBelowEphemeralRange();
  const logFile = join(h.home, 'upstream.log');
  const server = serveProcess({ home: h.home, logFile, env: { ESTUARY_EST_LISTEN: `127.0.0.1:${port}`, ESTUARY_CRL_LISTEN: 'off', ESTUARY_ADMIN_LISTEN: 'off', ESTUARY_OPS_LISTEN: 'off' } });
  const up: Upstream = {
    ...h,
    port,
    url: `https://127.0.0.1:${port}`,
    base: `https://127.0.0.1:${port}/.well-known/est`,
    logFile,
    issuingPem: readFileSync(join(h.home, 'ca', 'issuing.pem'), 'utf8'),
    running: () => server.running(),
    start: () => server.start(),
    stop: (how) => server.stop(how),
  };
  await up.start();
  return up;
}

/** Change the upstream's profiles while it runs (SQLite, read per request), as `estuary profile set` does. */
export async function withUpstreamStore<T>(up: Upstream, fn: (store: Store) => Promise<T>): Promise<T> {
  return withStore({ home: up.home }, (store) => fn(store));
}

export interface RaCertificate {
  /** The RA certificate followed by the upstream's issuing CA certificate (PEM). */
  chainPem: string;
  keyPem: string;
  serial: string;
}

/** An RA certificate (id-kp-cmcRA + clientAuth) enrolled on the upstream's `ra-certs` profile over EST. */
export async function enrollRaCertificate(up: Upstream, name = 'CN=estuary-ra'): Promise<RaCertificate> {
  const csr = await makeCsr({ name });
  const res = await estRequest(`${up.base}/ra-certs/simpleenroll`, {
    ca: up.rootPem, basic: { user: up.summary.estAccount.email, password: up.summary.estAccount.password },
    body: csrBody(csr.der), contentType: 'application/pkcs10',
  });
  if (res.status !== 200) throw new Error(`the upstream refused the RA certificate (${res.status}): ${res.text}`);
  const leaf = certsFrom(res)[0]!;
  return { chainPem: pem(leaf) + up.issuingPem, keyPem: csr.keyPem, serial: certificateFields(leaf).serialHex };
}

/** How one RA connector authenticates upstream; files are written under <raHome>/upstream/. */
export interface ConnectorSpec {
  label?: string;
  /** Trust the upstream's TLS certificate by its root's SHA-256 fingerprint (RFC 7030 §4.1.1 bootstrap) instead of trustAnchors. */
  bootstrap?: boolean;
  basic?: { user: string; password: string };
  certificate?: RaCertificate;
  serverKeygen?: 'forward' | 'local';
  reenroll?: 'forward' | 'enroll';
  retryAfterSeconds?: number;
}

/**
 * An RA home (not started) whose estuary.yaml has one `type: est` connector per entry, set with
 * setCaConnector as `estuary ca add` does; secrets in 0600 files next to it.
 */
export async function makeRaHome(up: Upstream, connectors: Record<string, ConnectorSpec>): Promise<TestHome> {
  const ra = await makeHome();
  const dir = join(ra.home, 'upstream');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'root.pem'), up.rootPem);
  for (const [id, c] of Object.entries(connectors)) {
    const auth: Record<string, unknown> = {};
    if (c.basic) {
      writeFileSync(join(dir, `${id}.password`), c.basic.password + '\n', { mode: 0o600 });
      auth.basic = { user: c.basic.user, passwordFile: `upstream/${id}.password` };
    }
    if (c.certificate) {
      writeFileSync(join(dir, `${id}-ra.pem`), c.certificate.chainPem);
      writeFileSync(join(dir, `${id}-ra.key`), c.certificate.keyPem, { mode: 0o600 });
      auth.certificate = `upstream/${id}-ra.pem`;
      auth.key = `upstream/${id}-ra.key`;
    }
    setCaConnector(ra.home, id, {
      type: 'est', url: up.url, ...(c.label ? { label: c.label } : {}),
      ...(c.bootstrap ? { bootstrapFingerprint: up.summary.rootFingerprintSha256 } : { trustAnchors: ['upstream/root.pem'] }), auth,
      ...(c.serverKeygen ? { serverKeygen: c.serverKeygen } : {}), ...(c.reenroll ? { reenroll: c.reenroll } : {}),
      ...(c.retryAfterSeconds ? { retryAfterSeconds: c.retryAfterSeconds } : {}),
    });
  }
  return ra;
}

/** The upstream's EST account as Basic credentials for a connector. */
export function upstreamAccount(up: Upstream): { user: string; password: string } {
  return { user: up.summary.estAccount.email, password: up.summary.estAccount.password };
}

/** RA profiles, each a copy of the RA's `default` profile issuing through a connector (store.updateProfile / createProfile). */
export async function routeProfiles(store: Store, routes: Record<string, { ca: string } & Partial<NewProfile>>): Promise<void> {
  const base = (await store.getProfile('default'))!;
  for (const [label, changes] of Object.entries(routes)) {
    const { createdAt: _c, updatedAt: _u, ...rest } = base;
    const profile = { ...rest, ...changes, label };
    if (label === 'default') await store.updateProfile(profile);
    else await store.createProfile(profile);
  }
}
