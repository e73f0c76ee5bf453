/** Status messages for the page's aria-live regions: one polite (done), one assertive (failed). */
import { useEffect, useState } from 'preact/hooks';

export interface StatusMessage {
  id: number;
  kind: 'success' | 'error' | 'info';
  text: string;
}

let message: StatusMessage | null = null;
let nextId = 1;
const listeners = new Set<() => void>();

function publish(next: StatusMessage | null): void {
  message = next;
  for (const l of listeners) l();
}

export function announce(text: string, kind: StatusMessage['kind'] = 'success'): void {
  publish({ id: nextId++, kind, text });
}

export function clearStatus(): void {
  if (message) publish(null);
}

export function useStatusMessage(): StatusMessage | null {
  const [value, setValue] = useState(message);
  useEffect(() => {
    const update = () => setValue(message);
    listeners.add(update);
    return () => void listeners.delete(update);
  }, []);
  return value;
}
