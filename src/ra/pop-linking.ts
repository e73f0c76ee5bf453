/** RFC 7030 §3.5 proof-of-possession linking: the CSR is bound to this TLS session through its challengePassword. */
import type { ParsedCsr } from '../pki/csr.js';
import { OID } from '../pki/oids.js';
import type { Profile } from './model.js';
import type { Credentials, Principal } from './authenticators.js';
import { RaError } from './errors.js';

/**
 * `optional` (the default of new profiles) checks a challengePassword that is present; `required`
 * also refuses its absence; `off` is for profiles whose clients put something else there. An empty
 * challengePassword means "not linked".
 */
export function checkPopLinking(p: Profile, principal: Principal, csr: ParsedCsr, creds: Credentials): void {
  if (p.popLinking === 'off') return;
  // RFC 7030 §3.7: an RA (id-kp-cmcRA) forwards requests of others; their CSRs cannot carry its session.
  if (principal.certificate?.keyUsage?.includes(OID.cmcRA)) return;
  const presented = csr.challengePassword?.trim();
  if (!presented) {
    if (p.popLinking === 'required') {
      throw new RaError('forbidden', 'proof-of-possession linking is required (RFC 7030 §3.5): the CSR challengePassword must carry the base64 TLS channel binding (tls-unique under TLS 1.2, tls-exporter under TLS 1.3)');
    }
    return;
  }
  const binding = creds.channelBinding;
  if (!binding) throw new RaError('forbidden', 'proof-of-possession linking: this connection offers no TLS channel binding');
  if (presented !== binding.toString('base64')) {
    throw new RaError('forbidden', 'proof-of-possession linking failed (RFC 7030 §3.5): the CSR challengePassword does not match this TLS session\'s channel binding');
  }
}
