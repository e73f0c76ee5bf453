/** The signed-in operator, for screens that adapt to the role. */
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Session } from './types';

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in page');
  return session;
}
