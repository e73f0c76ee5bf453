/**
 * Self-test of the quirky EST test server: each quirk is really on the wire, as curl (an
 * independent client) sees it with `-sv --raw`, and the well-formed variants still decode.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBase64Body } from '../../src/pki/base64.js';
import { decodeCsrAttrs } from '../../src/pki/csr-attrs.js';
import { parseCertsOnly } from '../../src/pki/signed-data.js';
import { children, readTop } from '../../src/pki/der.js';
import { OID } from '../../src/pki/oids.js';
import { generateKeys, makeCsr, x509 } from '../helpers/keys.js';
import { tempDir } from '../helpers/home.js';
import { startQuirkyServer, type QuirkyServer } from '../helpers/quirky-est-server.js';

let s: QuirkyServer;
let dir: string;
const USER = 'quirk-user';
const PASSWORD = 'quirk-pass';

interface CurlResult {
  /** Response header lines as received (without the "< " prefix). */
  headers: string[];
  status: number;
  /** The raw body bytes, chunk framing included with --raw. */
  body: Buffer;
  verbose: string;
}

/** Async on purpose: the server runs in this process, so a blocking child would deadlock it. */
async function curl(path: string, args: string[] = []): Promise<CurlResult> {
  const { stdout, stderr } = await promisify(execFile)(
    'curl',
    ['-sv', '--raw', '--http1.1', '--cacert', join(dir, 'ca.pem'), ...args, `${s.url}/.well-known/est${path}`],
    { encoding: 'buffer', maxBuffer: 1 << 22 },
  );
  const verbose = stderr.toString('latin1');
  const headers = verbose.split('\n').filter((l) => l.startsWith('< ')).map((l) => l.slice(2).replace(/\r$/, ''));
  const status = Number(/^HTTP\/1\.1 (\d+)/.exec(headers[0] ?? '')?.[1]);
  return { headers, status, body: stdout, verbose };
}

const header = (r: CurlResult, name: string): string | undefined =>
  r.headers.find((h) => h.toLowerCase().startsWith(name.toLowerCase() + ':'))?.slice(name.length + 1).trim();

async function postCsr(op = 'simpleenroll', extra: string[] = [], der?: Buffer): Promise<CurlResult> {
  const csr = der ?? (await makeCsr({ name: 'CN=quirky-device', dns: ['quirky-device.example'] })).der;
  writeFileSync(join(dir, 'csr.b64'), csr.toString('base64'));
  return curl(`/${op}`, ['-u', `${USER}:${PASSWORD}`, '-H', 'Content-Type: application/pkcs10', '--data-binary', `@${join(dir, 'csr.b64')}`, ...extra]);
}

/** De-chunk a raw chunked body (hex size CRLF data CRLF ... 0 CRLF CRLF). */
function dechunk(raw: Buffer): { body: Buffer; chunks: number } {
  const parts: Buffer[] = [];
  let i = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', i);
    const size = parseInt(raw.subarray(i, eol).toString('latin1'), 16);
    if (!Number.isFinite(size)) throw new Error('not chunked framing');
    if (size === 0) return { body: Buffer.concat(parts), chunks: parts.length };
    parts.push(raw.subarray(eol + 2, eol + 2 + size));
    i = eol + 2 + size + 2;
  }
}

beforeAll(async () => {
  try {
    execFileSync('curl', ['--version'], { stdio: 'ignore' });
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
  } catch {
    throw new Error('curl and openssl are required for the quirky server self-test (Debian packages curl, openssl)');
  }
  s = await startQuirkyServer({ auth: { basic: { user: USER, password: PASSWORD } } });
  dir = tempDir('estuary-quirky-');
  writeFileSync(join(dir, 'ca.pem'), s.caPem);
});
afterAll(async () => {
  await s.close();
});

describe('quirky EST server, seen by curl', () => {
  it('answers cacerts with both CA certificates, base64 wrapped at 64 with LF, sized, with CTE', async () => {
    s.setQuirks({});
    const r = await curl('/cacerts');
    expect(r.status).toBe(200);
    expect(header(r, 'content-type')).toBe('application/pkcs7-mime; smime-type=certs-only');
    expect(header(r, 'content-transfer-encoding')).toBe('base64');
    expect(Number(header(r, 'content-length'))).toBe(r.body.length);
    const text = r.body.toString('latin1');
    expect(text.split('\n')[0]).toHaveLength(64);
    expect(text).not.toContain('\r');
    const certs = parseCertsOnly(decodeBase64Body(r.body));
    expect(certs.map((c) => c.equals(s.caCerts[0]!) || c.equals(s.caCerts[1]!))).toEqual([true, true]);
    expect(s.rootFingerprintSha256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  it('crlfWrap: base64 lines of 76 characters ending in CRLF', async () => {
    s.setQuirks({ crlfWrap: true });
    const text = (await curl('/cacerts')).body.toString('latin1');
    const lines = text.split('\r\n');
    expect(lines[0]).toHaveLength(76);
    expect(text.endsWith('\r\n')).toBe(true);
    expect(text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    expect(parseCertsOnly(decodeBase64Body(text))).toHaveLength(2);
  });

  it('noWrap: one line, no line break at all', async () => {
    s.setQuirks({ noWrap: true });
    const text = (await curl('/cacerts')).body.toString('latin1');
    expect(text).toMatch(/^[A-Za-z0-9+/]+=*$/);
  });

  it('trailingNul and extraWhitespace: a NUL after the body, blank lines, tabs and spaces around lines', async () => {
    s.setQuirks({ trailingNul: true });
    const nul = (await curl('/cacerts')).body;
    expect(nul[nul.length - 1]).toBe(0);
    s.setQuirks({ extraWhitespace: true });
    const ws = (await curl('/cacerts')).body.toString('latin1');
    expect(ws).toMatch(/^\r\n {2}[A-Za-z0-9+/]/);
    expect(ws).toMatch(/ \t\n/);
    expect(ws).toMatch(/\n\t\n$/);
    expect(parseCertsOnly(decodeBase64Body(ws))).toHaveLength(2);
  });

  it('noCte: no Content-Transfer-Encoding header', async () => {
    s.setQuirks({ noCte: true });
    const r = await curl('/cacerts');
    expect(r.status).toBe(200);
    expect(header(r, 'content-transfer-encoding')).toBeUndefined();
  });

  it('chunked: Transfer-Encoding chunked framing on the wire, no Content-Length', async () => {
    s.setQuirks({ chunked: true });
    const r = await curl('/cacerts');
    expect(header(r, 'transfer-encoding')).toBe('chunked');
    expect(header(r, 'content-length')).toBeUndefined();
    const { body, chunks } = dechunk(r.body);
    expect(chunks).toBeGreaterThanOrEqual(3);
    expect(parseCertsOnly(decodeBase64Body(body))).toHaveLength(2);
  });

  it('eContent: the encapContentInfo carries an empty [0] OCTET STRING', async () => {
    s.setQuirks({ eContent: true });
    const der = decodeBase64Body((await curl('/cacerts')).body);
    const [, content] = children(der, readTop(der));
    const [sd] = children(der, content!);
    const encap = children(der, children(der, sd!)[2]!);
    expect(encap).toHaveLength(2);
    expect(der.subarray(encap[1]!.start, encap[1]!.end)).toEqual(Buffer.from([0xa0, 0x02, 0x04, 0x00]));
    expect(parseCertsOnly(der)).toHaveLength(2);
  });

  it('connectionClose: Connection: close and the socket is closed, so every request is a new connection', async () => {
    s.setQuirks({ connectionClose: true });
    const r = await curl('/cacerts', [`${s.url}/.well-known/est/cacerts`]);
    expect(header(r, 'connection')).toBe('close');
    expect(r.verbose).toMatch(/Closing connection|shutting down connection/);
    const last = s.requests.slice(-2);
    expect(last[0]!.connectionId).not.toBe(last[1]!.connectionId);
    s.setQuirks({});
    await curl('/cacerts', [`${s.url}/.well-known/est/cacerts`]);
    const kept = s.requests.slice(-2);
    expect(kept[0]!.connectionId).toBe(kept[1]!.connectionId);
  });

  it('contentTypeVariants: no smime-type, upper case, quoted', async () => {
    s.setQuirks({ contentTypeVariants: true });
    expect(header(await curl('/cacerts'), 'content-type')).toBe('application/pkcs7-mime');
    s.setQuirks({ contentTypeVariants: 'upper-case' });
    expect(header(await curl('/cacerts'), 'content-type')).toBe('APPLICATION/PKCS7-MIME; SMIME-TYPE=CERTS-ONLY');
    s.setQuirks({ contentTypeVariants: 'quoted' });
    expect(header(await curl('/cacerts'), 'content-type')).toBe('application/pkcs7-mime; smime-type="certs-only"; name="cert.p7c"');
  });

  it('csrattrs: base64 CsrAttrs naming challengePassword', async () => {
    s.setQuirks({});
    const r = await curl('/csrattrs');
    expect(header(r, 'content-type')).toBe('application/csrattrs');
    expect(decodeCsrAttrs(decodeBase64Body(r.body))).toEqual([{ oid: '1.2.840.113549.1.9.7' }]);
  });

  it('simpleenroll: 401 with a Basic challenge without credentials, a real certificate with them; requests recorded', async () => {
    s.setQuirks({});
    const denied = await curl('/simpleenroll', ['--data-binary', 'AAAA', '-H', 'Content-Type: application/pkcs10']);
    expect(denied.status).toBe(401);
    expect(header(denied, 'www-authenticate')).toBe('Basic realm="quirky-est"');
    expect(s.requests.at(-1)!.authorization).toBe(false);
    const r = await postCsr();
    expect(r.status).toBe(200);
    const [cert] = parseCertsOnly(decodeBase64Body(r.body));
    expect(cert!.equals(s.issued.at(-1)!)).toBe(true);
    const rec = s.requests.at(-1)!;
    expect(rec).toMatchObject({ method: 'POST', operation: 'simpleenroll', authorization: true, basicUser: USER, status: 200 });
    expect(rec.csr!.subject).toBe('CN=quirky-device');
    expect(rec.headers['content-type']).toBe('application/pkcs10');
  });

  it('respond202Times: 202 with Retry-After (delta-seconds, then HTTP-date), then the certificate', async () => {
    s.setQuirks({ respond202Times: 1, retryAfter: { seconds: 7 } });
    const pending = await postCsr();
    expect(pending.status).toBe(202);
    expect(header(pending, 'retry-after')).toBe('7');
    expect((await postCsr()).status).toBe(200);
    s.setQuirks({ respond202Times: 1, retryAfter: { seconds: 30, form: 'http-date' } });
    const dated = await postCsr();
    const when = Date.parse(header(dated, 'retry-after')!);
    expect(header(dated, 'retry-after')).toMatch(/GMT$/);
    expect(when - Date.now()).toBeGreaterThan(25_000);
  });

  it('serverkeygen: multipart/mixed, key first, CRLF; with multipartVariants a quoted boundary, LF, cert first, a preamble', async () => {
    s.setQuirks({});
    const plain = await postCsr('serverkeygen');
    expect(header(plain, 'content-type')).toBe('multipart/mixed; boundary=quirky-7030-boundary');
    const text = plain.body.toString('latin1');
    expect(text.indexOf('application/pkcs8')).toBeLessThan(text.indexOf('smime-type=certs-only'));
    expect(text).toContain('--quirky-7030-boundary\r\nContent-Type: application/pkcs8\r\n');
    s.setQuirks({ multipartVariants: true, noCte: true });
    const odd = await postCsr('serverkeygen');
    expect(header(odd, 'content-type')).toBe('multipart/mixed; boundary="=_quirky:7030 part_="');
    const t2 = odd.body.toString('latin1');
    expect(t2).not.toContain('\r');
    expect(t2.startsWith('This is a multi-part message')).toBe(true);
    expect(t2.indexOf('certs-only')).toBeLessThan(t2.indexOf('application/pkcs8'));
    expect(t2).not.toMatch(/content-transfer-encoding/i);
    expect(t2).toContain('--=_quirky:7030 part_=--\n');
  });

  it('serverkeygen with AsymmetricDecryptKeyIdentifier: the key comes back as EnvelopedData openssl decrypts', async () => {
    s.setQuirks({});
    const client = await s.issueClientCert('CN=keygen-device', 3600);
    writeFileSync(join(dir, 'kg.pem'), client.certPem);
    writeFileSync(join(dir, 'kg-key.pem'), client.keyPem);
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: 'CN=keygen-device',
      keys: await generateKeys('ec-p256'),
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams,
      attributes: [new x509.Attribute(OID.asymmetricDecryptKeyIdentifier, [new Uint8Array([0x04, 0x00]).buffer])],
    });
    const r = await postCsr('serverkeygen', ['--cert', join(dir, 'kg.pem'), '--key', join(dir, 'kg-key.pem')], Buffer.from(csr.rawData));
    const boundary = /boundary=(.+)$/.exec(header(r, 'content-type')!)![1]!;
    const [keyPart = ''] = r.body.toString('latin1').split(`--${boundary}`).slice(1);
    expect(keyPart).toContain('Content-Type: application/pkcs7-mime; smime-type=server-generated-key');
    writeFileSync(join(dir, 'key.env'), decodeBase64Body(keyPart.split('\r\n\r\n')[1]!));
    await promisify(execFile)('openssl', ['cms', '-decrypt', '-inform', 'DER', '-in', 'key.env', '-recip', 'kg.pem', '-inkey', 'kg-key.pem', '-out', 'key.der'], { cwd: dir });
    const key = createPrivateKey({ key: readFileSync(join(dir, 'key.der')), format: 'der', type: 'pkcs8' });
    const cert = new X509Certificate(s.issued.at(-1)!);
    expect(cert.subject).toBe('CN=keygen-device');
    expect(cert.publicKey.export({ format: 'jwk' })).toEqual(createPublicKey(key).export({ format: 'jwk' }));
  });

  it('malformed: garbled base64, truncated DER, text/html, not SignedData, empty 200, 500', async () => {
    s.setQuirks({ garbledBase64: true });
    expect((await curl('/cacerts')).body.toString('latin1')).toContain('*!~%');
    s.setQuirks({ truncatedDer: true });
    const truncated = decodeBase64Body((await curl('/cacerts')).body);
    expect(() => parseCertsOnly(truncated)).toThrow(/truncated/);
    s.setQuirks({ wrongContentType: true });
    const html = await curl('/cacerts');
    expect([html.status, header(html, 'content-type')]).toEqual([200, 'text/html; charset=utf-8']);
    s.setQuirks({ notSignedData: true });
    const data = decodeBase64Body((await curl('/cacerts')).body);
    expect(() => parseCertsOnly(data)).toThrow(/not SignedData/);
    s.setQuirks({ emptyBody200: true });
    const empty = await curl('/cacerts');
    expect([empty.status, header(empty, 'content-length'), empty.body.length]).toEqual([200, '0', 0]);
    s.setQuirks({ status500: true });
    expect((await curl('/cacerts')).status).toBe(500);
  });

  it('only: the quirks apply to the named operations alone', async () => {
    s.setQuirks({ status500: true, only: ['simpleenroll'] });
    expect((await curl('/cacerts')).status).toBe(200);
    expect((await postCsr()).status).toBe(500);
  });

  it('labels and TLS client certificates are recorded; a client certificate from its CA is authorized', async () => {
    s.setQuirks({});
    const client = await s.issueClientCert('CN=reenroll-device', 3600);
    writeFileSync(join(dir, 'client.pem'), client.certPem);
    writeFileSync(join(dir, 'client-key.pem'), client.keyPem);
    const r = await postCsr('simplereenroll', ['--cert', join(dir, 'client.pem'), '--key', join(dir, 'client-key.pem')]);
    expect(r.status).toBe(200);
    expect(s.requests.at(-1)!.clientCert).toMatchObject({ subject: 'CN=reenroll-device', authorized: true });
    await curl('/my-label/cacerts');
    expect(s.requests.at(-1)).toMatchObject({ operation: 'cacerts', label: 'my-label', path: '/.well-known/est/my-label/cacerts' });
  });
});
