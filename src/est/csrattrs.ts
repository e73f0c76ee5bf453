/** RFC 7030 §4.5 (RFC 8951 §4): /csrattrs — the profile's attributes, or 204 when it has none. */
import type { Endpoint } from './endpoint.js';
import { CONTENT_TYPE, sendBase64 } from './wire.js';

export const csrattrsEndpoint: Endpoint = {
  operation: 'csrattrs',
  method: 'GET',
  async handle({ label, reply, service }) {
    const der = await service.csrattrs(label);
    if (!der) return reply.code(204).send();
    return sendBase64(reply, CONTENT_TYPE.csrattrs, der);
  },
};
