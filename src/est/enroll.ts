/** RFC 7030 §4.2: /simpleenroll and /simplereenroll; §4.4: /serverkeygen. */
import { Base64Error, decodeBase64Body } from '../pki/base64.js';
import { certsOnly } from '../pki/signed-data.js';
import type { EnrollOperation } from '../ra/enrollment-service.js';
import { RaError } from '../ra/errors.js';
import type { Endpoint } from './endpoint.js';
import { credentialsOf } from './tls-credentials.js';
import { CONTENT_TYPE, mediaType, sendBase64, sendServerKeygen, sendText } from './wire.js';

function enrollEndpoint(operation: EnrollOperation): Endpoint {
  return {
    operation,
    method: 'POST',
    async handle({ label, request, reply, service }) {
      // Resolve the label first: an unknown label is 404 whatever the body.
      await service.profile(label);
      if (mediaType(request.headers['content-type']) !== CONTENT_TYPE.pkcs10) {
        return sendText(reply, 415, `${operation} expects Content-Type ${CONTENT_TYPE.pkcs10}`);
      }
      let csr: Buffer;
      try {
        // RFC 8951 §3: base64 with or without line breaks; Content-Transfer-Encoding is ignored.
        csr = decodeBase64Body(request.body as Buffer);
      } catch (err) {
        if (err instanceof Base64Error) throw new RaError('bad-request', err.message);
        throw err;
      }
      const outcome = await service.enroll({ label, operation, csr, credentials: credentialsOf(request) });
      switch (outcome.kind) {
        case 'issued':
          if (outcome.privateKey) return sendServerKeygen(reply, outcome.privateKey, certsOnly([outcome.certificate]));
          return sendBase64(reply, CONTENT_TYPE.certsOnly, certsOnly([outcome.certificate]));
        case 'pending':
          // RFC 7030 §4.2.3: 202 with Retry-After; the client re-sends the same request.
          reply.header('retry-after', String(outcome.retryAfterSeconds));
          return sendText(reply, 202, `the request is pending approval; retry after ${outcome.retryAfterSeconds} seconds`);
      }
    },
  };
}

export const simpleenrollEndpoint = enrollEndpoint('simpleenroll');
export const simplereenrollEndpoint = enrollEndpoint('simplereenroll');
export const serverkeygenEndpoint = enrollEndpoint('serverkeygen');
