/** Unit tests of the client's tolerant response reading (RFC 8951) and its error classification. */
import { randomBytes, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCaHierarchy, createTlsServerCertificate } from '../../src/ca/ca-setup.js';
import { classifyError, EstClientError, kindForStatus } from '../../src/client/errors.js';
import type { HttpResponse } from '../../src/client/http-connection.js';
import {
  certsFromPkcs7, derBody, multipartParts, parseMediaType, parseRetryAfter, readCertsOnly, readServerKeygen, serverReason, splitIssued,
} from '../../src/client/responses.js';
import { encodeBase64Body, toPem } from '../../src/pki/base64.js';
import { explicit, oid, seq, set, smallInteger } from '../../src/pki/der.js';
import { OID } from '../../src/pki/oids.js';
import { certsOnly } from '../../src/pki/signed-data.js';

const now = new Date();
const { root, issuing } = createCaHierarchy({ algorithm: 'ec-p256', rootName: 'CN=Unit Root', issuingName: 'CN=Unit Issuing', now, random: randomBytes });
const leaf = createTlsServerCertificate({ issuer: issuing, hosts: ['leaf.example'], algorithm: 'ec-p256', days: 1, now, random: randomBytes });

function response(body: string | Buffer, headers: Record<string, string> = {}, status = 200): HttpResponse {
  return { status, headers, body: typeof body === 'string' ? Buffer.from(body, 'latin1') : body, channelBinding: undefined, tlsVersion: 'TLSv1.3' };
}

describe('parseMediaType', () => {
  it('lower-cases the type and parameter names, unquotes values', () => {
    expect(parseMediaType('APPLICATION/PKCS7-MIME; SMIME-TYPE=CERTS-ONLY')).toEqual({ type: 'application/pkcs7-mime', params: { 'smime-type': 'CERTS-ONLY' } });
    expect(parseMediaType('multipart/mixed; boundary="=_a:b c;d_="; x=1')).toEqual({ type: 'multipart/mixed', params: { boundary: '=_a:b c;d_=', x: '1' } });
    expect(parseMediaType(undefined)).toEqual({ type: '', params: {} });
  });
});

describe('derBody', () => {
  const der = certsOnly([leaf.der]);
  it.each([
    ['LF-wrapped', encodeBase64Body(der)],
    ['CRLF-wrapped', encodeBase64Body(der).replace(/\n/g, '\r\n')],
    ['unwrapped with a trailing NUL', der.toString('base64') + '\0'],
    ['PEM', toPem('PKCS7', der)],
  ])('reads %s', (_name, text) => {
    expect(derBody(Buffer.from(text, 'latin1'), 'op').equals(der)).toBe(true);
  });
  it('reads raw DER (a binary answer)', () => {
    expect(derBody(der, 'op').equals(der)).toBe(true);
  });
  it('names the operation and the fault', () => {
    expect(() => derBody(Buffer.from('abc*def'), 'simpleenroll')).toThrow('simpleenroll: the response is not base64 (unexpected character)');
    expect(() => derBody(Buffer.from(' \r\n\0'), 'cacerts')).toThrow('cacerts: the response body is empty');
  });
});

describe('certsFromPkcs7', () => {
  it('reads a BER (indefinite-length) SignedData', () => {
    const sd = seq(smallInteger(1), set(), seq(oid(OID.data)), explicit(0, leaf.der, issuing.der), set());
    const ber = Buffer.concat([Buffer.from([0x30, 0x80]), oid(OID.signedData), Buffer.from([0xa0, 0x80]), sd, Buffer.from([0, 0, 0, 0])]);
    expect(certsFromPkcs7(ber, 'cacerts').map((c) => c.toString('hex'))).toEqual([leaf.der, issuing.der].map((c) => c.toString('hex')));
  });
  it('refuses an empty certs-only answer to enroll', () => {
    expect(() => readCertsOnly(response(encodeBase64Body(certsOnly([]))), 'simpleenroll')).toThrow('simpleenroll: the PKCS#7 answer holds no certificate');
  });
  it('accepts a missing Content-Type, refuses a wrong one', () => {
    expect(readCertsOnly(response(encodeBase64Body(certsOnly([leaf.der]))), 'op')).toHaveLength(1);
    expect(() => readCertsOnly(response('{}', { 'content-type': 'application/json' }), 'op')).toThrow('op: expected application/pkcs7-mime (certs-only), got Content-Type application/json');
  });
});

describe('multipart (RFC 2046 §5.1.1)', () => {
  const key = Buffer.from('302e020100300506032b657004220420' + '11'.repeat(32), 'hex'); // an Ed25519 PKCS#8 key
  const certPart = encodeBase64Body(certsOnly([leaf.der]));
  it('splits CRLF and LF bodies with preamble, epilogue and transport padding', () => {
    for (const eol of ['\r\n', '\n']) {
      const body = `preamble${eol}--b  ${eol}Content-Type: application/pkcs8${eol}${eol}${key.toString('base64')}${eol}--b${eol}Content-type:${eol} application/pkcs7-mime${eol}${eol}${certPart}${eol}--b--${eol}epilogue`;
      const parts = multipartParts(Buffer.from(body, 'latin1'), 'b');
      expect(parts.map((p) => p.headers['content-type'])).toEqual(['application/pkcs8', 'application/pkcs7-mime']);
      expect(parts[0]!.body.toString('latin1')).toBe(key.toString('base64'));
    }
  });
  it('reads a serverkeygen answer without a boundary parameter and without part Content-Types', () => {
    const body = `--xyz\n\n${certPart}\n--xyz\n\n${key.toString('base64')}\n--xyz--\n`;
    const r = readServerKeygen(response(body, { 'content-type': 'multipart/mixed' }), 'serverkeygen');
    expect(r.privateKey).toEqual({ kind: 'pkcs8', der: key });
    expect(r.certificates).toHaveLength(1);
  });
  it('says which part is missing', () => {
    const body = `--b\r\nContent-Type: application/pkcs7-mime; smime-type=certs-only\r\n\r\n${certPart}\r\n--b\r\nContent-Type: application/pkcs7-mime; smime-type=certs-only\r\n\r\n${certPart}\r\n--b--\r\n`;
    expect(() => readServerKeygen(response(body, { 'content-type': 'multipart/mixed; boundary=b' }), 'serverkeygen')).toThrow('serverkeygen: the answer has no private key part');
    expect(() => readServerKeygen(response('--b\r\n\r\nAAAA\r\n--b--', { 'content-type': 'multipart/mixed; boundary=b' }), 'serverkeygen')).toThrow('found 1 part(s)');
  });
});

describe('parseRetryAfter', () => {
  const t = new Date('2030-01-01T00:00:00Z');
  it('reads delta-seconds and an HTTP-date; ignores junk', () => {
    expect(parseRetryAfter('120', t)).toEqual({ seconds: 120, until: new Date('2030-01-01T00:02:00Z') });
    expect(parseRetryAfter(' Tue, 01 Jan 2030 00:00:30 GMT ', t)).toEqual({ seconds: 30, until: new Date('2030-01-01T00:00:30Z') });
    expect(parseRetryAfter('Mon, 31 Dec 2029 23:00:00 GMT', t)).toEqual({ seconds: 0, until: t });
    expect(parseRetryAfter('soon', t)).toBeUndefined();
    expect(parseRetryAfter(undefined, t)).toBeUndefined();
  });
});

describe('serverReason', () => {
  it('trims, joins lines, strips HTML and caps the length', () => {
    expect(serverReason(response('  the key is\r\n too weak \n', { 'content-type': 'text/plain' }))).toBe('the key is too weak');
    expect(serverReason(response('<html><head><style>x{}</style></head><body><h1>Denied</h1></body></html>', { 'content-type': 'text/html' }))).toBe('Denied');
    expect(serverReason(response('x'.repeat(500), { 'content-type': 'text/plain' }))).toHaveLength(300);
    expect(serverReason(response('', { 'x-est-reason': 'credentials required' }))).toBe('credentials required');
    expect(serverReason(response(Buffer.from([0x30, 0x03]), { 'content-type': 'application/pkcs7-mime' }))).toBe('');
  });
});

describe('splitIssued', () => {
  it('picks the certificate for the CSR key, else the one that issued nothing', () => {
    const spki = new X509Certificate(leaf.der).publicKey.export({ type: 'spki', format: 'der' });
    expect(splitIssued([issuing.der, leaf.der, root.der], spki)).toEqual({ certificate: leaf.der, extraCertificates: [issuing.der, root.der] });
    expect(splitIssued([root.der, issuing.der, leaf.der], undefined).certificate).toEqual(leaf.der);
  });
});

describe('error classification', () => {
  it('maps statuses and node errors to kinds', () => {
    expect([401, 403, 404, 400, 503, 500, 501].map(kindForStatus)).toEqual(['auth', 'policy', 'policy', 'policy', 'network', 'bad-response', 'bad-response']);
    const e = (code: string, message = code) => Object.assign(new Error(message), { code });
    expect(classifyError(e('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1'), 'cacerts')).toMatchObject({ kind: 'network' });
    expect(classifyError(e('ENOTFOUND'), 'cacerts').kind).toBe('network');
    expect(classifyError(e('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'), 'cacerts').message).toBe('cacerts: TLS failure: the server certificate is not issued by a trusted CA (unable to verify the first certificate)');
    expect(classifyError(e('ERR_TLS_CERT_ALTNAME_INVALID'), 'x').kind).toBe('tls');
    expect(classifyError(e('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION'), 'x').kind).toBe('tls');
    expect(classifyError(e('CERT_HAS_EXPIRED'), 'x').kind).toBe('tls');
    const own = new EstClientError('usage', 'x');
    expect(classifyError(own, 'y')).toBe(own);
  });
});
