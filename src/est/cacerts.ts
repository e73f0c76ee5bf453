/** RFC 7030 §4.1: /cacerts — the CA chain as certs-only SignedData, no client authentication. */
import { encodeBase64Body } from '../pki/base64.js';
import { certsOnly } from '../pki/signed-data.js';
import type { Endpoint } from './endpoint.js';
import { CONTENT_TYPE, sendPreencoded } from './wire.js';

/** The chain never changes while the process runs: encode each CA's answer once. */
const encoded = new WeakMap<readonly Buffer[], Buffer>();

export const cacertsEndpoint: Endpoint = {
  operation: 'cacerts',
  method: 'GET',
  async handle({ label, reply, service }) {
    const chain = await service.cacerts(label);
    let body = encoded.get(chain);
    if (!body) {
      body = Buffer.from(encodeBase64Body(certsOnly(chain)), 'latin1');
      encoded.set(chain, body);
    }
    return sendPreencoded(reply, CONTENT_TYPE.certsOnly, body);
  },
};
