/**
 * Revocation status of client certificates from external device CAs (RFC 5280 §6.3): their
 * CRLs are fetched over HTTP(S) with a timeout and a size bound, cached until nextUpdate and
 * refetched in the background before it; concurrent look-ups of one URL share one fetch. A
 * CRL is used only when its issuer is the certificate's issuer and its signature verifies
 * with that CA's key. Our own CAs' certificates are judged from the store instead.
 */
import { createHash, type X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { certificateFields } from '../pki/certificate.js';
import { crlSignatureSupported, crlSignedBy, parseCrl, type ParsedCrl } from '../pki/crl-reader.js';
import { CRL_REASONS } from '../pki/crl.js';
import { sameName } from '../pki/name-constraints.js';
import { oidName } from '../pki/oids.js';
import { subjectOf } from './client-cert.js';

export type DeviceCrlStatus =
  | { kind: 'good'; url: string }
  | { kind: 'revoked'; url: string; reason: string | undefined }
  /** No fresh, verifiable CRL could be had; the profile's policy decides. */
  | { kind: 'unavailable'; url: string; error: string };

export interface DeviceCrlSource {
  /** The status of `cert`, issued by `issuer`, per the CRL at `url`; waits at most about the fetch timeout. */
  status(cert: X509Certificate, issuer: X509Certificate, url: string): Promise<DeviceCrlStatus>;
}

export interface DeviceCrlOptions {
  now: () => Date;
  /** Per fetch, connection to last byte. */
  timeoutMs?: number;
  /** A larger CRL is refused. */
  maxBytes?: number;
  /** A CRL is refetched in the background after this long even when nextUpdate is further away. */
  maxAgeMs?: number;
  /** After a failed fetch, how long look-ups answer from the failure before fetching again. */
  retryAfterMs?: number;
  /** Fetches and their failures are logged here. */
  logger?: Pick<Logger, 'info' | 'warn'>;
}

interface Loaded {
  crl: ParsedCrl;
  /** Until when the CRL may be used: its nextUpdate. */
  expiresAt: number;
  refreshAt: number;
  /** Issuer certificate fingerprint → signature verified. */
  verified: Map<string, boolean>;
}

type Entry = { ok: true; loaded: Loaded } | { ok: false; error: string; retryAt: number };

const REASON_NAME = new Map<number, string>(Object.entries(CRL_REASONS).map(([name, code]) => [code, name]));

const MAX_REDIRECTS = 3;
const REDIRECT = new Set([301, 302, 303, 307, 308]);

const getterFor = (url: string): typeof httpGet | undefined => (/^https:/i.test(url) ? httpsGet : /^http:/i.test(url) ? httpGet : undefined);

/**
 * GET `url` into memory, following up to 3 http(s) redirects, refusing other non-200 answers,
 * bodies over `maxBytes` and anything not complete within `timeoutMs` (one deadline for all hops).
 */
export function fetchBounded(url: string, timeoutMs: number, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let req: ReturnType<typeof httpGet> | undefined;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req?.destroy();
      reject(err);
    };
    const attempt = (current: string, hops: number): void => {
      const get = getterFor(current);
      if (!get) return fail(new Error(hops === 0 ? 'only http and https URLs are fetched' : `redirected to ${current}, which is not http or https`));
      try {
        req = get(current, { headers: { accept: 'application/pkix-crl' } }, (res: IncomingMessage) => {
          const status = res.statusCode ?? 0;
          if (REDIRECT.has(status) && res.headers.location && hops < MAX_REDIRECTS) {
            res.resume();
            let next: string;
            try {
              next = new URL(res.headers.location, current).href;
            } catch {
              return fail(new Error(`HTTP ${status} to an unusable location`));
            }
            return attempt(next, hops + 1);
          }
          if (status !== 200) {
            res.resume();
            return fail(new Error(`HTTP ${status || '?'}`));
          }
          const declared = Number(res.headers['content-length'] ?? 0);
          if (declared > maxBytes) return fail(new Error(`the CRL is larger than ${maxBytes} bytes`));
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > maxBytes) fail(new Error(`the CRL is larger than ${maxBytes} bytes`));
            else chunks.push(c);
          });
          res.on('error', fail);
          res.on('end', () => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            resolve(Buffer.concat(chunks));
          });
        });
      } catch (err) {
        return fail(err as Error); // a malformed URL
      }
      req.on('error', fail);
    };
    attempt(url, 0);
    if (!settled) timer = setTimeout(() => fail(new Error(`no complete answer within ${timeoutMs} ms`)), timeoutMs);
  });
}

export function createDeviceCrlSource(o: DeviceCrlOptions): DeviceCrlSource {
  const timeoutMs = o.timeoutMs ?? 5000;
  const maxBytes = o.maxBytes ?? 8 * 1024 * 1024;
  const maxAgeMs = o.maxAgeMs ?? 3_600_000;
  const retryAfterMs = o.retryAfterMs ?? 30_000;
  const cache = new Map<string, Entry>();
  const inflight = new Map<string, Promise<Entry>>();

  async function fetchEntry(url: string): Promise<Entry> {
    const started = o.now().getTime();
    try {
      const crl = parseCrl(await fetchBounded(url, timeoutMs, maxBytes));
      const now = o.now().getTime();
      const expiresAt = crl.nextUpdate ? crl.nextUpdate.getTime() : crl.thisUpdate.getTime() + maxAgeMs;
      if (expiresAt <= now) throw new Error(`the CRL expired at ${new Date(expiresAt).toISOString()} (nextUpdate)`);
      // refetch after maxAge, and in any case once three quarters of the remaining validity have passed
      const refreshAt = Math.min(now + maxAgeMs, now + ((expiresAt - now) * 3) / 4);
      o.logger?.info({ url, revoked: crl.revoked.size, nextUpdate: crl.nextUpdate?.toISOString() }, 'device CA CRL fetched');
      return { ok: true, loaded: { crl, expiresAt, refreshAt, verified: new Map() } };
    } catch (err) {
      o.logger?.warn({ url, reason: (err as Error).message }, 'device CA CRL could not be fetched');
      return { ok: false, error: (err as Error).message, retryAt: started + retryAfterMs };
    }
  }

  /** One fetch per URL at a time; a failed refetch keeps a CRL that is still valid. */
  function load(url: string): Promise<Entry> {
    const running = inflight.get(url);
    if (running) return running;
    const p = fetchEntry(url).then((fresh) => {
      inflight.delete(url);
      const old = cache.get(url);
      if (!fresh.ok && old?.ok && old.loaded.expiresAt > o.now().getTime()) {
        old.loaded.refreshAt = fresh.retryAt;
        return old;
      }
      cache.set(url, fresh);
      return fresh;
    });
    inflight.set(url, p);
    return p;
  }

  async function current(url: string): Promise<Entry> {
    const now = o.now().getTime();
    const hit = cache.get(url);
    if (hit?.ok && now < hit.loaded.expiresAt) {
      if (now >= hit.loaded.refreshAt) void load(url); // in the background: this look-up uses the CRL it has
      return hit;
    }
    if (hit && !hit.ok && now < hit.retryAt) return hit;
    return load(url);
  }

  return {
    async status(cert, issuer, url) {
      const entry = await current(url);
      if (!entry.ok) return { kind: 'unavailable', url, error: entry.error };
      const { crl, verified } = entry.loaded;
      if (crl.unusable) return { kind: 'unavailable', url, error: `the CRL cannot be used: ${crl.unusable}` };
      // RFC 5280 §6.3.3 (b)/(f): a complete CRL of the certificate's own issuer, signed with its key.
      if (!sameName(crl.issuer, certificateFields(Buffer.from(issuer.raw)).subject)) {
        return { kind: 'unavailable', url, error: `the CRL is not issued by "${subjectOf(issuer)}"` };
      }
      if (!crlSignatureSupported(crl)) return { kind: 'unavailable', url, error: `the CRL signature algorithm ${oidName(crl.signatureAlgorithm)} is not supported` };
      const fp = createHash('sha256').update(issuer.raw).digest('hex');
      let signed = verified.get(fp);
      if (signed === undefined) verified.set(fp, (signed = crlSignedBy(crl, issuer)));
      if (!signed) {
        entry.loaded.refreshAt = Math.min(entry.loaded.refreshAt, o.now().getTime() + retryAfterMs);
        return { kind: 'unavailable', url, error: 'the CRL signature does not verify with the issuing CA\'s key' };
      }
      const serial = certificateFields(Buffer.from(cert.raw)).serialHex;
      if (!crl.revoked.has(serial)) return { kind: 'good', url };
      const code = crl.revoked.get(serial);
      return { kind: 'revoked', url, reason: code === undefined ? undefined : (REASON_NAME.get(code) ?? `reason ${code}`) };
    },
  };
}
