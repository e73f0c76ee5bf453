/** Words the profile screens show for the API's values. */
import type { AuthMechanism } from './types';

export const MECHANISMS: ReadonlyArray<{ value: AuthMechanism; label: string; explanation: string }> = [
  { value: 'basic', label: 'HTTP Basic', explanation: "An EST account's email and password." },
  {
    value: 'tls-client-cert',
    label: 'TLS client authentication',
    explanation: "A client certificate validated against the profile's device CA.",
  },
  {
    value: 'basic+tls-client-cert',
    label: 'HTTP Basic and TLS client authentication',
    explanation: 'Both: the client certificate first, then the EST account.',
  },
];

export function mechanismLabel(value: string): string {
  return MECHANISMS.find((m) => m.value === value)?.label ?? value;
}

export function needsTrustAnchors(auth: AuthMechanism): boolean {
  return auth !== 'basic';
}
