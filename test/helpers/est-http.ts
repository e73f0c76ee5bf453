/** A plain HTTPS client for EST requests (node:https, one connection per request). */
import { request as httpsRequest } from 'node:https';
import { decodeBase64Body } from '../../src/pki/base64.js';
import { parseCertsOnly } from '../../src/pki/signed-data.js';

export interface EstResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
}

export interface EstRequestOptions {
  method?: string;
  body?: string | Buffer;
  contentType?: string;
  headers?: Record<string, string>;
  ca: string;
  basic?: { user: string; password: string };
  clientCert?: { cert: string; key: string };
  maxVersion?: 'TLSv1.2' | 'TLSv1.3';
  /** Connect from this local address (e.g. 127.0.0.2: another client address on loopback). */
  localAddress?: string;
}

export function estRequest(url: string, o: EstRequestOptions): Promise<EstResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    if (o.contentType) headers['content-type'] = o.contentType;
    if (o.basic) headers.authorization = 'Basic ' + Buffer.from(`${o.basic.user}:${o.basic.password}`).toString('base64');
    const req = httpsRequest(
      url,
      {
        method: o.method ?? (o.body !== undefined ? 'POST' : 'GET'),
        headers,
        ca: o.ca,
        agent: false,
        ...(o.clientCert ? { cert: o.clientCert.cert, key: o.clientCert.key } : {}),
        ...(o.maxVersion ? { maxVersion: o.maxVersion } : {}),
        ...(o.localAddress ? { localAddress: o.localAddress } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (o.body !== undefined) req.write(o.body);
    req.end();
  });
}

/** base64 DER of a CSR, wrapped at 64 columns with LF. */
export function csrBody(der: Buffer): string {
  return der.toString('base64').match(/.{1,64}/g)!.join('\n') + '\n';
}

export function certsFrom(res: EstResponse): Buffer[] {
  return parseCertsOnly(decodeBase64Body(res.body));
}

export function pem(der: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
}
