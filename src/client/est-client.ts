/**
 * EstClient: the EST operations of RFC 7030 (updated by RFC 8951) against any server: cacerts,
 * csrattrs, simpleenroll, simplereenroll and serverkeygen, with explicit, implicit, bootstrap or
 * no server trust, HTTP Basic and/or TLS client authentication, proof-of-possession linking
 * through a CSR factory that is given the channel binding of the connection carrying the request,
 * and 202 + Retry-After waiting.
 */
import { createPublicKey } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { isIP } from 'node:net';
import type { SecureVersion } from 'node:tls';
import { encodeBase64Body } from '../pki/base64.js';
import type { AttrOrOid } from '../pki/csr-attrs.js';
import { children, readTop, slice } from '../pki/der.js';
import { EstClientError } from './errors.js';
import { HttpConnection, type HttpRequest, type HttpResponse } from './http-connection.js';
import { certifiesKey, parseRetryAfter, readCertsOnly, readCsrAttrs, readServerKeygen, serverReason, splitIssued, type ServerKey } from './responses.js';
import { normalizePrivateKeyDer } from './server-key.js';
import { mayAuthenticate, normalizeFingerprint, verifyBootstrapBag, type Trust } from './trust.js';

export interface WaitingInfo {
  /** How long the client waits before sending the request again. */
  seconds: number;
  until: Date;
  /** 1 for the first wait. */
  attempt: number;
  /** The server sent no (readable) Retry-After; the client waits DEFAULT_RETRY_AFTER_SECONDS. */
  retryAfterMissing: boolean;
  /** The server's text with the 202, if any. */
  message: string;
}

export interface EstClientOptions {
  server: string; // https://host:port, or the EST URL itself (…/.well-known/est or …/.well-known/est/<label>)
  label?: string; // → /.well-known/est/<label>/<op>
  trust: Trust;
  basic?: { user: string; password: string }; // sent only once the server is trusted
  clientCert?: { certPem: string; keyPem: string; passphrase?: string }; // TLS client authentication (cert may hold a chain; passphrase for an encrypted key)
  maxWaitSeconds?: number; // how long to keep answering 202 with Retry-After (default 0 → fail 'pending' at once)
  onWaiting?: (w: WaitingInfo) => void;
  timeoutMs?: number; // per request (default 30 s)
  tls?: { minVersion?: SecureVersion; maxVersion?: SecureVersion };
  /** Send Basic credentials with the first request (default true) rather than after a 401 challenge. */
  basicPreemptive?: boolean;
  sleep?: (ms: number) => Promise<void>;
  now?: () => Date; // injectable for tests
  /** Connections kept open to the server at once (default 1); see HttpConnection. */
  maxConnections?: number;
}

/**
 * One request sent once (submit): the server's answer as a value. A 202 is not waited on; the
 * caller (the RA's upstream connector) passes it on.
 */
export type SubmitResult =
  | { kind: 'issued'; result: EnrollResult }
  | { kind: 'issued-with-key'; result: ServerKeygenResult }
  | { kind: 'pending'; retryAfterSeconds: number | undefined; message: string };

export type CsrFactory = (ctx: { channelBinding: Buffer | undefined; tlsVersion: string }) => Promise<Buffer> | Buffer;

export interface EnrollResult {
  certificate: Buffer;
  extraCertificates: Buffer[];
  tlsVersion: string;
}

export interface ServerKeygenResult extends EnrollResult {
  /** PKCS#8 (converted when the server sent PKCS#1 or SEC 1: see warnings), or the EnvelopedData (openServerKey). */
  privateKey: ServerKey;
  /** The server's TLS certificate of the connection that carried the answer (a signer openServerKey accepts). */
  serverCertificate: Buffer | undefined;
  /** What was tolerated in the answer (e.g. a key in another wrapper than PKCS#8). */
  warnings: string[];
}

/**
 * RFC 7030 §4.2.1 names Content-Transfer-Encoding: base64 for the request; RFC 8951 servers ignore
 * the header, servers written to RFC 7030 alone may look for it.
 */
const POST_HEADERS = { 'content-transfer-encoding': 'base64' };

/** RFC 7030 §4.2.3 requires Retry-After with a 202; when a server omits it, wait this long. */
export const DEFAULT_RETRY_AFTER_SECONDS = 60;

export type EnrollOperation = 'simpleenroll' | 'simplereenroll' | 'serverkeygen';

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The SubjectPublicKeyInfo of a PKCS#10 request (RFC 2986 §4.1), or undefined if it does not parse. */
function csrSpki(csr: Buffer): Buffer | undefined {
  try {
    const [info] = children(csr, readTop(csr));
    const [, , spki] = children(csr, info!);
    return spki ? Buffer.from(slice(csr, spki)) : undefined;
  } catch {
    return undefined;
  }
}

export class EstClient {
  private readonly connection: HttpConnection;
  private readonly prefix: string;
  private readonly basic: { user: string; password: string } | undefined;
  private readonly maxWaitSeconds: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => Date;

  constructor(private readonly opts: EstClientOptions) {
    let url: URL;
    try {
      url = new URL(opts.server);
    } catch {
      throw new EstClientError('usage', `"${opts.server}" is not a URL (expected https://host[:port])`);
    }
    // RFC 7030 §3.3: EST runs over HTTPS only.
    if (url.protocol !== 'https:') throw new EstClientError('usage', `the EST server URL must be https:// (got ${url.protocol}//)`);
    if (url.search || url.hash) throw new EstClientError('usage', 'the EST server URL must not have a query or fragment');
    // The EST URL an operator copies (…/.well-known/est/<label>) names the label itself.
    const inUrl = /\/\.well-known\/est\/([^/]+)\/*$/.exec(url.pathname);
    if (inUrl && opts.label !== undefined && opts.label !== decodeURIComponent(inUrl[1]!)) {
      throw new EstClientError('usage', `the URL names the label "${decodeURIComponent(inUrl[1]!)}" and --label says "${opts.label}"`);
    }
    const label = opts.label ?? (inUrl ? decodeURIComponent(inUrl[1]!) : '');
    // RFC 7030 §3.2.2: the label is one path segment.
    if (label && (!/^[A-Za-z0-9._~!$&'()*+,;=:@%-]+$/.test(label) || label === '.' || label === '..')) {
      throw new EstClientError('usage', `"${label}" is not a valid EST label (one path segment)`);
    }
    const base = url.pathname.replace(/\/+$/, '').replace(/\/\.well-known\/est(\/[^/]+)?$/, '');
    this.prefix = `${base}/.well-known/est${label ? `/${label}` : ''}`;
    if (opts.trust.kind === 'bootstrap') normalizeFingerprint(opts.trust.fingerprintSha256); // usage error early
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (!host || (host.includes(':') && !isIP(host))) throw new EstClientError('usage', `"${opts.server}" has no valid host`);
    // RFC 7030 §4.1.1: no credentials while bootstrapping trust.
    this.basic = mayAuthenticate(opts.trust) ? opts.basic : undefined;
    this.maxWaitSeconds = Math.max(0, opts.maxWaitSeconds ?? 0);
    this.sleep = opts.sleep ?? realSleep;
    this.now = opts.now ?? (() => new Date());
    this.connection = new HttpConnection({
      host,
      port: url.port ? Number(url.port) : 443,
      trust: opts.trust,
      ...(opts.clientCert ? { clientCert: opts.clientCert } : {}),
      ...(opts.tls ? { tls: opts.tls } : {}),
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      ...(opts.maxConnections !== undefined ? { maxConnections: opts.maxConnections } : {}),
    });
  }

  /** TLS handshakes made so far (connections opened; requests on a kept-alive connection make none). */
  get handshakes(): number {
    return this.connection.handshakes;
  }

  /**
   * RFC 7030 §4.1: the CA certificates. Under bootstrap trust they are accepted only if one CA
   * certificate has the configured fingerprint and every certificate chains up to it (§4.1.1).
   */
  async cacerts(): Promise<Buffer[]> {
    const what = 'cacerts';
    // §4.1.2: cacerts needs no authentication; credentials only answer a challenge.
    const res = await this.send(what, 'GET', undefined, false);
    if (res.status !== 200) throw this.statusError(what, res);
    const certs = readCertsOnly(res, what);
    if (this.opts.trust.kind === 'bootstrap') verifyBootstrapBag(certs, this.opts.trust.fingerprintSha256);
    return certs;
  }

  /** RFC 7030 §4.5: the CSR attributes the server wants; 204 or 404 mean none (§4.5.2). */
  async csrattrs(): Promise<AttrOrOid[]> {
    const what = 'csrattrs';
    this.refuseBootstrap(what);
    const res = await this.send(what, 'GET', undefined, true);
    if (res.status === 204 || res.status === 404) return [];
    if (res.status !== 200) throw this.statusError(what, res);
    // Tolerated: a 200 with an empty body, meant as "nothing in particular" like 204.
    if (res.body.toString('latin1').replace(/[\s\0]+/g, '') === '') return [];
    return readCsrAttrs(res, what);
  }

  /** RFC 7030 §4.2.1. */
  enroll(csr: CsrFactory): Promise<EnrollResult> {
    return this.enrollLike('simpleenroll', csr);
  }

  /** RFC 7030 §4.2.2: authenticated with the current certificate (clientCert) as a rule. */
  reenroll(csr: CsrFactory): Promise<EnrollResult> {
    return this.enrollLike('simplereenroll', csr);
  }

  /** RFC 7030 §4.4: the server makes the key; encrypted return when the CSR asks for it (§4.4.1.2). */
  async serverkeygen(csr: CsrFactory): Promise<ServerKeygenResult> {
    const { res } = await this.post('serverkeygen', csr);
    return this.serverKeygenAnswer(res);
  }

  /**
   * Send one enroll, reenroll or serverkeygen request once, with this exact CSR: the answer, or
   * the 202 (with its Retry-After) as a value; refusals and failures throw EstClientError.
   */
  async submit(what: EnrollOperation, csr: Buffer): Promise<SubmitResult> {
    this.refuseBootstrap(what);
    const res = await this.postOnce(what, () => csr);
    if (res.status === 202) {
      return { kind: 'pending', retryAfterSeconds: parseRetryAfter(res.headers['retry-after'], this.now())?.seconds, message: serverReason(res) };
    }
    if (what === 'serverkeygen') return { kind: 'issued-with-key', result: this.serverKeygenAnswer(res) };
    return { kind: 'issued', result: this.enrollAnswer(what, res, csr) };
  }

  private serverKeygenAnswer(res: HttpResponse): ServerKeygenResult {
    const what = 'serverkeygen';
    const { privateKey: sent, certificates } = readServerKeygen(res, what);
    let privateKey = sent;
    const warnings: string[] = [];
    let spki: Buffer | undefined;
    if (sent.kind === 'pkcs8') {
      const normalized = normalizePrivateKeyDer(sent.der, what);
      if (!normalized) throw new EstClientError('bad-response', `${what}: the private key part is not a PKCS#8 private key (nor PKCS#1 or SEC 1)`);
      if (normalized.warning) warnings.push(normalized.warning);
      privateKey = { kind: 'pkcs8', der: normalized.pkcs8 };
      spki = createPublicKey(normalized.privateKey).export({ type: 'spki', format: 'der' });
    }
    const split = splitIssued(certificates, spki);
    if (spki && !certifiesKey(split.certificate, spki)) {
      throw new EstClientError('bad-response', `${what}: the returned private key does not belong to the returned certificate`);
    }
    return { ...split, privateKey, tlsVersion: res.tlsVersion, serverCertificate: res.peerCertificate, warnings };
  }

  close(): void {
    this.connection.close();
  }

  private async enrollLike(what: EnrollOperation, factory: CsrFactory): Promise<EnrollResult> {
    const { res, csr } = await this.post(what, factory);
    return this.enrollAnswer(what, res, csr);
  }

  private enrollAnswer(what: EnrollOperation, res: HttpResponse, csr: Buffer | undefined): EnrollResult {
    const certs = readCertsOnly(res, what);
    const spki = csr ? csrSpki(csr) : undefined;
    const split = splitIssued(certs, spki);
    if (spki && !certifiesKey(split.certificate, spki)) {
      throw new EstClientError('bad-response', `${what}: no returned certificate is for the public key of the request`);
    }
    return { ...split, tlsVersion: res.tlsVersion };
  }

  private refuseBootstrap(what: string): void {
    if (this.opts.trust.kind === 'bootstrap') {
      throw new EstClientError('usage', `${what}: bootstrap trust only fetches /cacerts (RFC 7030 §4.1.1); use the verified CA certificates as explicit trust anchors`);
    }
  }

  /**
   * POST a CSR; RFC 7030 §4.2.3: a 202 is answered by waiting Retry-After and sending the same
   * request again (a new CSR from the factory: same key, the binding of the new connection).
   */
  private async post(what: EnrollOperation, factory: CsrFactory): Promise<{ res: HttpResponse; csr: Buffer | undefined }> {
    this.refuseBootstrap(what);
    let waited = 0;
    for (let attempt = 1; ; attempt++) {
      let csr: Buffer | undefined;
      const res = await this.postOnce(what, async (conn) => (csr = Buffer.from(await factory(conn))));
      if (res.status === 200) return { res, csr };
      const now = this.now();
      const retry = parseRetryAfter(res.headers['retry-after'], now);
      const seconds = retry?.seconds ?? DEFAULT_RETRY_AFTER_SECONDS;
      const until = retry?.until ?? new Date(now.getTime() + seconds * 1000);
      const message = serverReason(res);
      if (waited + seconds > this.maxWaitSeconds) {
        const after = retry ? `the server asks to retry after ${seconds} s (at ${until.toISOString()})` : `the server gave no Retry-After (assumed ${seconds} s)`;
        const budget = this.maxWaitSeconds === 0 ? 'waiting is not enabled' : `that is past the maximum wait of ${this.maxWaitSeconds} s${waited ? ` (waited ${waited} s so far)` : ''}`;
        throw new EstClientError('pending', `${what}: the request is pending (202${message ? `: ${message}` : ''}); ${after}; ${budget}`, 202);
      }
      this.opts.onWaiting?.({ seconds, until, attempt, retryAfterMissing: !retry, message });
      await this.sleep(seconds * 1000);
      waited += seconds;
    }
  }

  /** One POST of a CSR: the 200 or 202 answer; any other status throws. */
  private async postOnce(what: EnrollOperation, factory: CsrFactory): Promise<HttpResponse> {
    const res = await this.send(what, 'POST', async (conn) => {
      const csr = Buffer.from(await factory(conn));
      // RFC 7030 §4.2.1 / RFC 8951 §3: base64 DER, Content-Type application/pkcs10.
      return { contentType: 'application/pkcs10', body: encodeBase64Body(csr) };
    }, true, POST_HEADERS);
    if (res.status !== 200 && res.status !== 202) throw this.statusError(what, res);
    return res;
  }

  /** One request, with the Basic credentials pre-emptively or in answer to one Basic challenge. */
  private async send(what: string, method: 'GET' | 'POST', body: HttpRequest['body'], preemptive: boolean, extraHeaders: Record<string, string> = {}): Promise<HttpResponse> {
    let withBasic = !!this.basic && preemptive && this.opts.basicPreemptive !== false;
    for (;;) {
      const headers: Record<string, string> = { ...extraHeaders };
      // Only reached on a verified TLS session (or under --insecure, by the user's choice).
      if (withBasic && this.basic) headers.Authorization = 'Basic ' + Buffer.from(`${this.basic.user}:${this.basic.password}`, 'utf8').toString('base64');
      const res = await this.connection.request({ method, path: `${this.prefix}/${what}`, headers, ...(body ? { body } : {}), what });
      // RFC 7617: answer one Basic challenge with credentials not sent yet.
      if (res.status === 401 && !withBasic && this.basic && /(^|[\s,])basic(\s|$)/i.test(String(res.headers['www-authenticate'] ?? ''))) {
        withBasic = true;
        continue;
      }
      return res;
    }
  }

  /** An error answer as an EstClientError (RFC 7030 §4.2.3: the text/plain body says why). */
  private statusError(what: string, res: HttpResponse): EstClientError {
    const error = this.describeStatus(what, res);
    const reason = serverReason(res);
    const retryAfterSeconds = parseRetryAfter(res.headers['retry-after'], this.now())?.seconds;
    return new EstClientError(error.kind, error.message, error.status, { reason, retryAfterSeconds });
  }

  private describeStatus(what: string, res: HttpResponse): EstClientError {
    const status = res.status;
    const reason = serverReason(res);
    const said = reason ? `: ${reason}` : '';
    const code = `${status} ${STATUS_CODES[status] ?? ''}`.trim();
    if (status === 401) {
      const challenge = String(res.headers['www-authenticate'] ?? '');
      let hint = '';
      if (this.opts.trust.kind === 'bootstrap') hint = ' (no credentials are sent while bootstrapping trust, RFC 7030 §4.1.1)';
      else if (!this.basic && !this.opts.clientCert) hint = ` (no credentials were given${challenge ? `; the server asks for ${challenge}` : ''})`;
      else if (/tls-client-certificate/i.test(challenge) && !/basic/i.test(challenge)) hint = this.opts.clientCert ? ' (the server did not accept the TLS client certificate)' : ' (the server asks for a TLS client certificate)';
      else if (challenge && !/basic/i.test(challenge)) hint = ` (the server asks for ${challenge}, which this client does not support)`;
      return new EstClientError('auth', `${what}: authentication refused (${code})${said}${hint}`, status);
    }
    if (status === 503) {
      const retry = res.headers['retry-after'] ? ` (Retry-After: ${String(res.headers['retry-after'])})` : '';
      return new EstClientError('network', `${what}: the server is temporarily unavailable (${code})${said}${retry}`, status);
    }
    if (status >= 400 && status < 500) return new EstClientError('policy', `${what}: refused by the server (${code})${said}`, status);
    if (status >= 300 && status < 400) {
      return new EstClientError('bad-response', `${what}: unexpected redirect (${code})${res.headers.location ? ` to ${res.headers.location}` : ''}`, status);
    }
    if (status >= 500) return new EstClientError('bad-response', `${what}: server error (${code})${said}`, status);
    return new EstClientError('bad-response', `${what}: unexpected status ${code}${said}`, status);
  }
}
