/** Operations Estuary answers but does not offer (yet). */
import type { Endpoint } from './endpoint.js';
import { sendText } from './wire.js';

/** RFC 7030 §4.3: Full CMC is optional; we say so plainly. */
export const fullcmcEndpoint: Endpoint = {
  operation: 'fullcmc',
  method: 'POST',
  async handle({ label, reply, service }) {
    await service.profile(label);
    return sendText(reply, 501, 'fullcmc (Full CMC, RFC 7030 §4.3) is not supported by this server; use simpleenroll');
  },
};

/** RFC 7030 §4.4: server-side key generation is not offered by this server version. */
export const serverkeygenEndpoint: Endpoint = {
  operation: 'serverkeygen',
  method: 'POST',
  async handle({ label, reply, service }) {
    await service.profile(label);
    return sendText(reply, 501, 'serverkeygen (server-side key generation, RFC 7030 §4.4) is not supported by this server');
  },
};
