/** RFC 7030 §3.5 proof-of-possession linking: the CSR is bound to this TLS session through its challengePassword. */
import type { ParsedCsr } from '../pki/csr.js';
import { OID } from '../pki/oids.js';
import type { Profile } from './model.js';
import type { Credentials, Principal } from './authenticators.js';
import { RaError } from './errors.js';

const POP_THROUGH_PROXY = 'proof-of-possession linking (RFC 7030 §3.5) is required by this profile, and it cannot work through a TLS-terminating proxy: '
  + 'the client\'s TLS channel ends at the proxy, so its channel binding cannot be checked here; connect to the EST server directly, or set the profile\'s popLinking to optional';

/** What proxy mode (est.proxy) means for a profile's PoP linking, for `profile show` and the Web RA; undefined when nothing. */
export function popLinkingThroughProxy(popLinking: Profile['popLinking']): string | undefined {
  switch (popLinking) {
    case 'required':
      return 'the EST listener is behind a TLS-terminating proxy (est.proxy): requests through the proxy are refused (403), as PoP linking (RFC 7030 §3.5) cannot work through it';
    case 'optional':
      return 'the EST listener is behind a TLS-terminating proxy (est.proxy): PoP linking (RFC 7030 §3.5) is not checked for requests through the proxy, as it cannot work through it';
    case 'off':
      return undefined;
  }
}

/**
 * `optional` (the default of new profiles) checks a challengePassword that is present; `required`
 * also refuses its absence; `off` is for profiles whose clients put something else there. An empty
 * challengePassword means "not linked".
 */
export function checkPopLinking(p: Profile, principal: Principal, csr: ParsedCsr, creds: Credentials): void {
  if (p.popLinking === 'off') return;
  // RFC 7030 §3.7: an RA (id-kp-cmcRA) forwards requests of others; their CSRs cannot carry its session.
  if (principal.certificate?.keyUsage?.includes(OID.cmcRA)) return;
  // Through a TLS-terminating proxy the client's TLS session ends at the proxy: its channel
  // binding is not one this server can compute, so linking cannot be checked at all.
  if (creds.viaProxy) {
    if (p.popLinking === 'required') throw new RaError('forbidden', POP_THROUGH_PROXY);
    return;
  }
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
