/**
 * A deliberately quirky EST server for client tests: plain node:https on 127.0.0.1:0 (not
 * Estuary's server) with its own CA, issuing real certificates for the CSRs it receives, and
 * sending the response variants of quirky-est-wire.ts on demand. Every request is recorded.
 *
 *   const s = await startQuirkyServer({ quirks: { chunked: true }, auth: { basic: { user, password } } });
 *   s.setQuirks({ status500: true, only: ['simpleenroll'] });   // from the next request on
 */
import { createHash, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SecureVersion, TLSSocket } from 'node:tls';
import { createCaHierarchy, createTlsServerCertificate } from '../../src/ca/ca-setup.js';
import { createLocalCa } from '../../src/ca/local-ca.js';
import { basicCredentials, channelBinding, peerChain } from '../../src/est/tls-credentials.js';
import { decodeBase64Body, toPem } from '../../src/pki/base64.js';
import { encodeCsrAttrs, type AttrOrOid } from '../../src/pki/csr-attrs.js';
import { parseCsr, verifyCsrSignature } from '../../src/pki/csr.js';
import { envelopeFor } from '../../src/pki/enveloped-data.js';
import { signKeyPackage } from '../../src/pki/key-package.js';
import { encodeGeneralNames, encodeName, nameToString, parseGeneralNames } from '../../src/pki/names.js';
import { OID } from '../../src/pki/oids.js';
import {
  base64Text, certsOnlyType, certsOnlyWith, notSignedData, OPERATIONS, serverKeygenBody, simpleType,
  type Operation, type Quirks,
} from './quirky-est-wire.js';
import { issueTemplate } from './issue-template.js';

export type { Operation, Quirks } from './quirky-est-wire.js';

export interface QuirkyServerOptions {
  quirks?: Quirks;
  /**
   * Authentication for simpleenroll, simplereenroll and serverkeygen (cacerts and csrattrs are
   * always open). `require` defaults to 'basic' when `basic` is given, else 'none'. A missing or
   * wrong Basic credential is answered 401 with `WWW-Authenticate: Basic realm="quirky-est"`;
   * a missing client certificate under 'cert' is answered 403.
   */
  auth?: { basic?: { user: string; password: string }; require?: 'none' | 'basic' | 'cert' | 'either' | 'both' };
  /** Lifetime of issued certificates (default one day). Settable later with setValiditySeconds. */
  validitySeconds?: number;
  /** What /csrattrs answers (default: challengePassword); [] → 204 No Content. */
  csrAttrs?: AttrOrOid[];
  /** RFC 7030 §3.5: refuse (403) enroll requests whose challengePassword is not the channel binding. */
  requirePop?: boolean;
  tls?: { minVersion?: SecureVersion; maxVersion?: SecureVersion };
  /** The labels this server knows (RFC 7030 §3.2.2); any other label is answered 404. Default: every label. */
  labels?: string[];
}

export interface RecordedRequest {
  method: string;
  /** The URL path as received. */
  path: string;
  operation: Operation | undefined;
  label: string | undefined;
  headers: IncomingHttpHeaders;
  /** The header names exactly as the client sent them (their case). */
  rawHeaderNames: string[];
  /** An Authorization header was present (whatever its value). */
  authorization: boolean;
  basicUser: string | undefined;
  /** The TLS client certificate presented, if any, and whether it chains to this server's CA. */
  clientCert: { subject: string; authorized: boolean; der: Buffer } | undefined;
  tlsVersion: string;
  /** Increments per TLS connection: equal ids mean the same connection was reused. */
  connectionId: number;
  body: Buffer;
  /** For enroll operations whose body parsed as a CSR. */
  csr: { subject: string; challengePassword: string | undefined; popLinked: boolean; der: Buffer } | undefined;
  /** The status answered. */
  status: number;
}

export interface QuirkyServer {
  /** https://127.0.0.1:PORT (no path: EST clients append /.well-known/est[/label]/op). */
  url: string;
  host: string;
  port: number;
  /** PEM of the root CA: the explicit trust anchor for this server. */
  caPem: string;
  /** The issuing CA and the root (DER), as /cacerts returns them. */
  caCerts: Buffer[];
  /** SHA-256 of the root, upper-case hex with colons (as `openssl x509 -fingerprint -sha256` prints). */
  rootFingerprintSha256: string;
  requests: RecordedRequest[];
  /** Every certificate issued, in order (DER). */
  issued: Buffer[];
  /** Replace the quirks for the following requests; resets the 202 counter. */
  setQuirks(q: Quirks): void;
  setValiditySeconds(seconds: number): void;
  /** Issue a client certificate for tests (e.g. the current certificate of a renew entry). */
  issueClientCert(subject: string, validitySeconds?: number): Promise<{ certPem: string; keyPem: string; der: Buffer }>;
  close(): Promise<void>;
}

const ENROLL_OPS: readonly Operation[] = ['simpleenroll', 'simplereenroll', 'serverkeygen'];

function fingerprint(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':');
}

class HttpAnswer extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

export async function startQuirkyServer(opts: QuirkyServerOptions = {}): Promise<QuirkyServer> {
  const now = new Date();
  const { root, issuing } = createCaHierarchy({ algorithm: 'ec-p256', rootName: 'CN=Quirky Test Root, O=Quirky', issuingName: 'CN=Quirky Issuing CA, O=Quirky', now, random: randomBytes });
  const tlsCert = createTlsServerCertificate({ issuer: issuing, hosts: ['127.0.0.1', 'localhost'], algorithm: 'ec-p256', days: 2, now, random: randomBytes });
  const ca = createLocalCa({ id: 'quirky', key: issuing.key, chain: [issuing.der, root.der], now: () => new Date(), random: randomBytes, backdateSeconds: 0 });
  const caCerts = [issuing.der, root.der];
  // a certificate under another root: signs key packages this server's clients must not accept
  const strangerCa = createCaHierarchy({ algorithm: 'ec-p256', rootName: 'CN=Stranger Root', issuingName: 'CN=Stranger CA', now, random: randomBytes });
  const strangerIssuer = createLocalCa({ id: 'stranger', key: strangerCa.issuing.key, chain: [strangerCa.issuing.der, strangerCa.root.der], now: () => new Date(), random: randomBytes, backdateSeconds: 0 });
  const stranger = createTlsServerCertificate({ issuer: strangerCa.issuing, hosts: ['127.0.0.1'], algorithm: 'ec-p256', days: 2, now, random: randomBytes });
  const caPem = toPem('CERTIFICATE', root.der);
  let quirks: Quirks = opts.quirks ?? {};
  let answered202 = 0;
  let validitySeconds = opts.validitySeconds ?? 86_400;
  const requireMode = opts.auth?.require ?? (opts.auth?.basic ? 'basic' : 'none');
  const csrAttrs = opts.csrAttrs ?? [{ oid: OID.challengePassword }];
  const requests: RecordedRequest[] = [];
  const issued: Buffer[] = [];
  const connectionIds = new WeakMap<object, number>();
  let nextConnection = 1;

  const issueFor = async (subject: Buffer, spki: Buffer, san: Buffer | undefined, seconds = validitySeconds, by = ca): Promise<Buffer> => {
    const cert = await issueTemplate(by, { subject, spki, subjectAltName: san, validitySeconds: seconds, keyUsage: ['digitalSignature'], extendedKeyUsage: [OID.clientAuth] });
    issued.push(cert.der);
    return cert.der;
  };

  const server: Server = createServer({
    key: tlsCert.key.export({ type: 'pkcs8', format: 'pem' }),
    cert: toPem('CERTIFICATE', tlsCert.der) + toPem('CERTIFICATE', issuing.der),
    ca: [caPem, toPem('CERTIFICATE', issuing.der)],
    requestCert: true,
    rejectUnauthorized: false,
    ...(opts.tls?.minVersion ? { minVersion: opts.tls.minVersion } : {}),
    ...(opts.tls?.maxVersion ? { maxVersion: opts.tls.maxVersion } : {}),
  });

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks)).catch((err: unknown) => {
        if (!res.headersSent) send(res, quirks, 500, 'text/plain', `quirky server bug: ${(err as Error).message}\n`, false);
      });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const socket = req.socket as TLSSocket;
    if (!connectionIds.has(socket)) connectionIds.set(socket, nextConnection++);
    const path = (req.url ?? '/').split('?')[0]!;
    const m = /^\/\.well-known\/est\/(?:([^/]+)\/)?([^/]+)$/.exec(path);
    const operation = m && (OPERATIONS as readonly string[]).includes(m[2]!) ? (m[2] as Operation) : undefined;
    const basic = basicCredentials(req.headers.authorization);
    const chain = peerChain(socket);
    const record: RecordedRequest = {
      method: req.method ?? '',
      path,
      operation,
      label: operation ? m?.[1] : undefined,
      headers: req.headers,
      rawHeaderNames: req.rawHeaders.filter((_, i) => i % 2 === 0),
      authorization: req.headers.authorization !== undefined,
      basicUser: basic?.user,
      clientCert: chain[0] ? { subject: new X509Certificate(chain[0]).subject.replace(/\n/g, ', '), authorized: socket.authorized, der: chain[0] } : undefined,
      tlsVersion: socket.getProtocol() ?? '',
      connectionId: connectionIds.get(socket)!,
      body,
      csr: undefined,
      status: 0,
    };
    requests.push(record);
    const q: Quirks = !quirks.only || (operation && quirks.only.includes(operation)) ? quirks : {};
    try {
      if (!operation) throw new HttpAnswer(404, `no such EST operation: ${path}`);
      if (record.label !== undefined && opts.labels && !opts.labels.includes(record.label)) throw new HttpAnswer(404, `no such label: ${record.label}`);
      const wantMethod = operation === 'cacerts' || operation === 'csrattrs' ? 'GET' : 'POST';
      if (req.method !== wantMethod) throw new HttpAnswer(405, `${operation} takes ${wantMethod}`, { allow: wantMethod });
      if (ENROLL_OPS.includes(operation)) checkAuth(basic, record.clientCert?.authorized === true);
      if (q.neverAnswer) return; // recorded with status 0; closed by the client's timeout or close()
      if (q.status503) throw new HttpAnswer(503, 'service unavailable (quirk status503)', { 'retry-after': String(q.status503.retryAfterSeconds) });
      if (q.status500) throw new HttpAnswer(500, 'internal server error (quirk status500)');
      record.status = await answer(operation, req, res, record, q);
    } catch (err) {
      if (!(err instanceof HttpAnswer)) throw err;
      record.status = err.status;
      send(res, q, err.status, 'text/plain; charset=utf-8', err.message + '\n', false, err.headers);
    }
  }

  function checkAuth(basic: { user: string; password: string } | undefined, certOk: boolean): void {
    const want = opts.auth?.basic;
    const basicOk = !!want && !!basic && basic.user === want.user && basic.password === want.password;
    const challenge = { 'www-authenticate': 'Basic realm="quirky-est"' };
    switch (requireMode) {
      case 'none':
        return;
      case 'basic':
        if (!basicOk) throw new HttpAnswer(401, 'authentication required', challenge);
        return;
      case 'cert':
        if (!certOk) throw new HttpAnswer(403, 'a client certificate from this CA is required');
        return;
      case 'either':
        if (!basicOk && !certOk) throw new HttpAnswer(401, 'authentication required', challenge);
        return;
      case 'both':
        if (!certOk) throw new HttpAnswer(403, 'a client certificate from this CA is required');
        if (!basicOk) throw new HttpAnswer(401, 'authentication required', challenge);
        return;
    }
  }

  async function answer(op: Operation, req: IncomingMessage, res: ServerResponse, record: RecordedRequest, q: Quirks): Promise<number> {
    if (op === 'cacerts') return sendPkcs7(res, q, q.withChain === 'reversed' ? [...caCerts].reverse() : caCerts);
    if (op === 'csrattrs') {
      if (csrAttrs.length === 0) return send(res, q, 204, undefined, '', false);
      return sendMalformedOr(res, q, simpleType(q, 'application/csrattrs'), encodeCsrAttrs(csrAttrs));
    }
    let csr: ReturnType<typeof parseCsr>;
    try {
      csr = parseCsr(decodeBase64Body(record.body));
    } catch (err) {
      throw new HttpAnswer(400, `the request is not a base64 PKCS#10 CSR: ${(err as Error).message}`);
    }
    if (!verifyCsrSignature(csr)) throw new HttpAnswer(400, 'the CSR signature does not verify');
    const binding = channelBinding(req.socket as TLSSocket);
    const popLinked = !!binding && csr.challengePassword === binding.toString('base64');
    record.csr = { subject: nameToString(csr.subject), challengePassword: csr.challengePassword, popLinked, der: csr.der };
    if (opts.requirePop && !popLinked) throw new HttpAnswer(403, 'proof-of-possession linking required (RFC 7030 §3.5)');
    if ((q.respond202Times ?? 0) > answered202) {
      answered202++;
      const ra = q.retryAfter ?? { seconds: 1 };
      const value = ra.form === 'http-date' ? new Date(Math.ceil((Date.now() + ra.seconds * 1000) / 1000) * 1000).toUTCString() : String(ra.seconds);
      return send(res, q, 202, 'text/plain; charset=utf-8', 'request pending approval\n', false, { 'retry-after': value });
    }
    const san = csr.requestedExtensions.get(OID.subjectAltName);
    if (op !== 'serverkeygen') {
      const der = await issueBad(q.badCertificate, csr.subject, csr.spki, san) ?? await issueFor(csr.subject, csr.spki, san);
      const certs = q.withChain === 'leaf-first' ? [der, ...caCerts] : q.withChain === 'reversed' ? [...[...caCerts].reverse(), der] : [der];
      return sendPkcs7(res, q, certs);
    }
    // RFC 7030 §4.4: the server makes the key; the CSR only carries the names.
    const key = q.serverKeyWrapper === 'pkcs1' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = key.publicKey.export({ type: 'spki', format: 'der' });
    const certDer = await issueBad(q.badCertificate, csr.subject, spki, san) ?? await issueFor(csr.subject, spki, san);
    const pkcs8 = key.privateKey.export({ type: 'pkcs8', format: 'der' });
    // RFC 7030 §4.4.1.2: encrypted return to the TLS client certificate when the CSR asks for it.
    const encrypt = csr.asymmetricDecryptKeyId !== undefined && record.clientCert !== undefined;
    let keyDer: Buffer = q.serverKeyWrapper ? key.privateKey.export({ type: q.serverKeyWrapper, format: 'der' }) : pkcs8;
    if (encrypt) {
      const signer = q.signedKeyPackage === 'server' ? { key: tlsCert.key, certificates: [tlsCert.der, issuing.der] }
        : q.signedKeyPackage === 'stranger' ? { key: stranger.key, certificates: [stranger.der] } : undefined;
      keyDer = signer
        ? await envelopeFor(record.clientCert!.der, signKeyPackage(pkcs8, signer, new Date()), { contentType: OID.signedData })
        : await envelopeFor(record.clientCert!.der, keyDer);
    }
    return sendServerKeygen(res, q, { der: keyDer, encrypted: encrypt }, certDer);
  }

  /** The certificate a broken CA would return instead of the one asked for. */
  async function issueBad(kind: Quirks['badCertificate'], subject: Buffer, spki: Buffer, san: Buffer | undefined): Promise<Buffer | undefined> {
    switch (kind) {
      case undefined:
        return undefined;
      case 'other-key':
        return issueFor(subject, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }), san);
      case 'extra-san':
        return issueFor(subject, spki, encodeGeneralNames([...(san ? parseGeneralNames(san) : []), { type: 'dns', value: 'not-admitted.example' }]));
      case 'other-subject':
        return issueFor(encodeName('CN=someone-else, O=Quirky'), spki, san);
      case 'foreign-issuer':
        return issueFor(subject, spki, san, validitySeconds, strangerIssuer);
    }
  }

  function sendPkcs7(res: ServerResponse, q: Quirks, certs: Buffer[]): number {
    const der = q.notSignedData ? notSignedData() : certsOnlyWith(certs, !!q.eContent);
    return sendMalformedOr(res, q, certsOnlyType(q), der);
  }

  /** A base64 DER answer, or the malformed variant the quirks ask for. */
  function sendMalformedOr(res: ServerResponse, q: Quirks, contentType: string, der: Buffer): number {
    if (q.wrongContentType) return send(res, q, 200, 'text/html; charset=utf-8', '<html><body><h1>Please log in</h1></body></html>\n', false);
    if (q.emptyBody200) return send(res, q, 200, contentType, '', false);
    const payload = q.truncatedDer ? der.subarray(0, Math.floor(der.length / 2)) : der;
    return send(res, q, 200, contentType, base64Text(payload, q), !q.noCte);
  }

  function sendServerKeygen(res: ServerResponse, q: Quirks, key: { der: Buffer; encrypted: boolean }, certDer: Buffer): number {
    if (q.wrongContentType) return sendMalformedOr(res, q, '', Buffer.alloc(0));
    if (q.emptyBody200) return send(res, q, 200, serverKeygenBody(key, certDer, q).contentType, '', false);
    const cert = q.truncatedDer ? certsOnlyWith([certDer], !!q.eContent).subarray(0, 40) : q.notSignedData ? notSignedData() : certsOnlyWith([certDer], !!q.eContent);
    const { contentType, body } = serverKeygenBody(key, cert, q);
    return send(res, q, 200, contentType, body, false, { 'cache-control': 'no-store' });
  }

  /** Write an answer with the framing quirks: chunked or sized, Connection: close. */
  function send(res: ServerResponse, q: Quirks, status: number, contentType: string | undefined, body: string | Buffer, cte: boolean, headers: Record<string, string> = {}): number {
    const bytes = typeof body === 'string' ? Buffer.from(body, 'latin1') : body;
    res.statusCode = status;
    if (contentType) res.setHeader('content-type', contentType);
    if (cte) res.setHeader('content-transfer-encoding', 'base64');
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    if (q.connectionClose) {
      res.setHeader('connection', 'close');
      res.on('finish', () => res.socket?.end());
    }
    if (q.chunked && bytes.length > 0 && status !== 204) {
      // No Content-Length and several writes: Node frames the body with Transfer-Encoding: chunked.
      const third = Math.ceil(bytes.length / 3);
      res.write(bytes.subarray(0, third));
      res.write(bytes.subarray(third, 2 * third));
      res.end(bytes.subarray(2 * third));
    } else {
      if (status !== 204) res.setHeader('content-length', bytes.length);
      res.end(status === 204 ? undefined : bytes);
    }
    return status;
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `https://127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    caPem,
    caCerts,
    rootFingerprintSha256: fingerprint(root.der),
    requests,
    issued,
    setQuirks(q: Quirks) {
      quirks = q;
      answered202 = 0;
    },
    setValiditySeconds(seconds: number) {
      validitySeconds = seconds;
    },
    async issueClientCert(subject: string, seconds?: number) {
      const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const der = await issueFor(encodeName(subject), key.publicKey.export({ type: 'spki', format: 'der' }), undefined, seconds);
      return { der, certPem: toPem('CERTIFICATE', der), keyPem: key.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
