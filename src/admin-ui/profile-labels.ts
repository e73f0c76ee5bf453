/** Words the profile screens show for the API's values. */
import type { AuthMechanism } from './types';

export const MECHANISMS: ReadonlyArray<{ value: AuthMechanism; label: string; explanation: string }> = [
  { value: 'basic', label: 'HTTP Basic', explanation: "an EST account's email and password" },
  {
    value: 'tls-client-cert',
    label: 'TLS client authentication',
    explanation: "a client certificate validated against the profile's device CA",
  },
  {
    value: 'basic+tls-client-cert',
    label: 'HTTP Basic and TLS client authentication',
    explanation: 'both, certificate first',
  },
];

export function mechanismLabel(value: string): string {
  return MECHANISMS.find((m) => m.value === value)?.label ?? value;
}

export function needsTrustAnchors(auth: AuthMechanism): boolean {
  return auth !== 'basic';
}
