/** Operations Estuary answers but does not offer (yet): 501 with a text reason. */
import type { Endpoint } from './endpoint.js';
import { sendText } from './wire.js';

function notOffered(operation: string, reason: string): Endpoint {
  return {
    operation,
    method: 'POST',
    async handle({ label, reply, service }) {
      await service.profile(label); // an unknown label is still 404
      return sendText(reply, 501, reason);
    },
  };
}

/** RFC 7030 §4.3: Full CMC is optional. */
export const fullcmcEndpoint = notOffered('fullcmc', 'fullcmc (Full CMC, RFC 7030 §4.3) is not supported by this server; use simpleenroll');
