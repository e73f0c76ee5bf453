/** Loading data from the API into a component. */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { describeError } from './api';
import type { Role } from './types';

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` when `key` changes (and on reload()); a newer load wins over an older one. */
export function useLoad<T>(load: () => Promise<T>, key: string): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  const seq = useRef(0);
  useEffect(() => {
    const mine = ++seq.current;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => mine === seq.current && setState({ data, loading: false }),
      (e: unknown) => mine === seq.current && setState((s) => ({ data: s.data, error: describeError(e), loading: false })),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

export type Permission = 'profiles.write' | 'accounts.write' | 'requests.decide' | 'certificates.revoke';

/** What each role may change (the server enforces the same; the UI only hides what would fail). */
export function can(role: Role, permission: Permission): boolean {
  switch (permission) {
    case 'profiles.write':
    case 'accounts.write':
      return role === 'admin';
    case 'requests.decide':
    case 'certificates.revoke':
      return role === 'admin' || role === 'officer';
  }
}

/** Sets document.title and moves focus to the page heading when the screen changes. */
export function usePageTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · Estuary Web RA`;
  }, [title]);
}

/**
 * A filter form's draft, started from the URL and reset from it only when the URL changes later
 * (Back/Forward). Resetting on mount too would wipe what was typed before the first effect ran.
 */
export function useUrlDraft<T>(fromUrl: () => T, urlKey: string) {
  const [draft, setDraft] = useState<T>(fromUrl);
  const shownKey = useRef(urlKey);
  useEffect(() => {
    if (shownKey.current === urlKey) return;
    shownKey.current = urlKey;
    setDraft(fromUrl());
  }, [urlKey]);
  return [draft, setDraft] as const;
}

/**
 * A form's submit: `run(work)` clears the error and marks the form busy while `work` runs; a failure
 * becomes the form's error through `errorOf`.
 */
export function useSubmit<E>(none: E, errorOf: (e: unknown) => E) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<E>(none);
  const run = async (work: () => Promise<void>) => {
    setBusy(true);
    setError(none);
    try {
      await work();
    } catch (err) {
      setError(errorOf(err));
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, run };
}
