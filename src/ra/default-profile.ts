/** The certification profile `estuary init` creates, and the defaults `profile add` starts from. */
import { DEFAULT_DEVICE_REVOCATION, DEFAULT_RENEWAL, EMPTY_NAME_POLICY, type NewProfile } from './model.js';

export function defaultProfile(label: string, ca: string): NewProfile {
  return {
    label,
    enabled: true,
    ca,
    auth: 'basic',
    clientTrustAnchors: [],
    validitySeconds: 365 * 86_400,
    keyAlgorithms: [{ type: 'ec', curves: ['P-256', 'P-384'] }, { type: 'rsa', minBits: 2048 }, { type: 'ed25519' }],
    keyUsage: ['digitalSignature', 'keyEncipherment'],
    extendedKeyUsage: ['serverAuth', 'clientAuth'],
    allowedAccounts: [],
    csrAttrs: [],
    approval: 'auto',
    retryAfterSeconds: 60,
    pendingTtlHours: 72,
    approvals: 1,
    // RFC 7030 §3.5: a challengePassword, when present, must be this session's channel binding.
    popLinking: 'optional',
    namePolicy: structuredClone(EMPTY_NAME_POLICY),
    deviceRevocation: structuredClone(DEFAULT_DEVICE_REVOCATION),
    renewal: { ...DEFAULT_RENEWAL },
  };
}
