/**
 * One HTTP attempt of a webhook delivery: POST of the JSON body with its signature, bounded by a
 * timeout for the whole attempt (connect, send, response head). Any 2xx is a success; anything
 * else, and any network or TLS failure, is an error with its reason. Redirects are not followed.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import { SIGNATURE_HEADER, signatureHeader } from './webhook-signature.js';

export interface WebhookMessage {
  eventId: string;
  type: string;
  occurredAt: Date;
  /** The event's details as JSON text. */
  data: string;
}

export interface AttemptResult {
  ok: boolean;
  responseCode: number | null;
  error: string | null;
}

export interface SendOptions {
  timeoutMs: number;
  /** Extra trust anchors (PEM) for https endpoints, in addition to the system's. */
  ca?: string | undefined;
  attempt: number;
  now: Date;
}

/** The body: `{"id","type","time","data"}`; `data` as stored, so a redelivery sends the same bytes. */
export function webhookBody(m: WebhookMessage): string {
  return `{"id":${JSON.stringify(m.eventId)},"type":${JSON.stringify(m.type)},"time":${JSON.stringify(m.occurredAt.toISOString())},"data":${m.data}}`;
}

export function sendWebhook(url: string, secret: string, m: WebhookMessage, o: SendOptions): Promise<AttemptResult> {
  const body = webhookBody(m);
  const target = new URL(url);
  const headers = {
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(body)),
    'User-Agent': 'Estuary-Webhooks/1',
    'Estuary-Event-Id': m.eventId,
    'Estuary-Event-Type': m.type,
    'Estuary-Delivery-Attempt': String(o.attempt),
    [SIGNATURE_HEADER]: signatureHeader(secret, o.now, body),
  };
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: AttemptResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const options = { method: 'POST', headers, ...(target.protocol === 'https:' && o.ca ? { ca: [...rootCertificates, o.ca] } : {}) };
    const req = (target.protocol === 'https:' ? httpsRequest : httpRequest)(target, options, (res) => {
      const code = res.statusCode ?? 0;
      res.resume(); // the answer's body is not used
      res.on('error', () => undefined);
      done(code >= 200 && code < 300 ? { ok: true, responseCode: code, error: null } : { ok: false, responseCode: code, error: `HTTP ${code}` });
    });
    const timer = setTimeout(() => {
      req.destroy();
      done({ ok: false, responseCode: null, error: `no answer within ${o.timeoutMs} ms` });
    }, o.timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, responseCode: null, error: err.code ? `${err.code}: ${err.message}` : err.message }));
    req.end(body);
  });
}
