/** EST wire conventions shared by the endpoints (RFC 7030 §4, RFC 8951 §3). */
import type { FastifyReply } from 'fastify';
import { encodeBase64Body } from '../pki/base64.js';

export const CONTENT_TYPE = {
  certsOnly: 'application/pkcs7-mime; smime-type=certs-only',
  csrattrs: 'application/csrattrs',
  pkcs10: 'application/pkcs10',
  pkcs8: 'application/pkcs8',
  serverGeneratedKey: 'application/pkcs7-mime; smime-type=server-generated-key',
} as const;

/** A base64 DER answer with an explicit Content-Length and Content-Transfer-Encoding (older clients need it). */
export function sendBase64(reply: FastifyReply, contentType: string, der: Buffer): FastifyReply {
  return sendPreencoded(reply, contentType, Buffer.from(encodeBase64Body(der), 'latin1'));
}

/** Preencoded variant for bodies that never change (cacerts). */
export function sendPreencoded(reply: FastifyReply, contentType: string, body: Buffer): FastifyReply {
  return reply
    .code(200)
    .header('content-type', contentType)
    .header('content-transfer-encoding', 'base64')
    .header('content-length', body.length)
    .send(body);
}

/** A boundary no base64 body can contain ('-' is outside the base64 alphabet). */
const BOUNDARY = 'estuary-serverkeygen-7030';

/**
 * RFC 7030 §4.4.2: multipart/mixed with the private key (application/pkcs8) first and the
 * certificate (certs-only) second, both base64 DER.
 */
export function sendServerKeygen(reply: FastifyReply, key: { der: Buffer; encrypted: boolean }, certsOnlyDer: Buffer): FastifyReply {
  const part = (type: string, der: Buffer): string =>
    `--${BOUNDARY}\r\nContent-Type: ${type}\r\nContent-Transfer-Encoding: base64\r\n\r\n${encodeBase64Body(der).replace(/\n/g, '\r\n')}`;
  // §4.4.2: an encrypted key is CMS EnvelopedData, smime-type server-generated-key.
  const keyPart = key.encrypted ? part(CONTENT_TYPE.serverGeneratedKey, key.der) : part(CONTENT_TYPE.pkcs8, key.der);
  const body = Buffer.from(`${keyPart}${part(CONTENT_TYPE.certsOnly, certsOnlyDer)}--${BOUNDARY}--\r\n`, 'latin1');
  return reply
    .code(200)
    .header('content-type', `multipart/mixed; boundary=${BOUNDARY}`)
    .header('content-length', body.length)
    .header('cache-control', 'no-store')
    .send(body);
}

export function sendText(reply: FastifyReply, status: number, text: string): FastifyReply {
  return reply.code(status).header('content-type', 'text/plain; charset=utf-8').send(text.endsWith('\n') ? text : text + '\n');
}

/** The media type of a Content-Type header, lower-cased, without parameters. */
export function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}
