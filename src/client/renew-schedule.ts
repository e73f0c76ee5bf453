/**
 * When the renew agent acts: the renewal point of a certificate, the backoff after a failure,
 * and the next time the daemon must wake. Pure functions: the clock and randomness come in.
 */

/** A renewal point: a fraction of the lifetime elapsed, or a duration before notAfter. */
export type RenewAt = { kind: 'fraction'; fraction: number } | { kind: 'before'; seconds: number };

/** Issue 4: by default renew when two thirds of the lifetime have passed. */
export const DEFAULT_RENEW_AT: RenewAt = { kind: 'fraction', fraction: 2 / 3 };

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 7 * 86_400 };

/**
 * "66%" (of the lifetime elapsed, more than 0 and less than 100) or "30d", "12h", "15m", "90s",
 * "2w" (before notAfter; also combined, e.g. "1d12h"). Throws an Error saying what is expected.
 */
export function parseRenewAt(text: string): RenewAt {
  const t = text.trim();
  const pct = /^(\d+(?:\.\d+)?)\s*%$/.exec(t);
  if (pct) {
    const p = Number(pct[1]);
    if (!(p > 0 && p < 100)) throw new Error(`a percentage of the lifetime must be more than 0% and less than 100%, got "${text}"`);
    return { kind: 'fraction', fraction: p / 100 };
  }
  if (/^(\d+\s*[smhdw]\s*)+$/i.test(t)) {
    let seconds = 0;
    for (const m of t.matchAll(/(\d+)\s*([smhdw])/gi)) seconds += Number(m[1]) * UNIT_SECONDS[m[2]!.toLowerCase()]!;
    if (seconds <= 0) throw new Error(`a duration before expiry must be positive, got "${text}"`);
    return { kind: 'before', seconds };
  }
  throw new Error(`expected a percentage of the lifetime ("66%") or a duration before expiry ("30d", "12h", "15m", "90s"), got "${text}"`);
}

export function formatRenewAt(r: RenewAt): string {
  return r.kind === 'fraction' ? `${+(r.fraction * 100).toFixed(2)}%` : `${r.seconds}s before expiry`;
}

/**
 * When a certificate valid from notBefore to notAfter is due for renewal. A duration before
 * expiry longer than half the lifetime is clamped to the middle of the lifetime: otherwise a
 * certificate shorter than the duration would be due the moment it was issued, and renewed
 * again and again.
 */
export function renewalPoint(notBefore: Date, notAfter: Date, renewAt: RenewAt): Date {
  const start = notBefore.getTime();
  const end = notAfter.getTime();
  const lifetime = Math.max(0, end - start);
  if (renewAt.kind === 'fraction') return new Date(start + Math.round(lifetime * renewAt.fraction));
  return new Date(Math.max(end - renewAt.seconds * 1000, start + Math.round(lifetime / 2)));
}

export interface BackoffPolicy {
  initialSeconds: number;
  maxSeconds: number;
  /**
   * full: uniform in [0, min(max, initial·2^(attempt-1))] (at least one second);
   * decorrelated: uniform in [initial, 3·previous], capped at max.
   */
  jitter?: 'full' | 'decorrelated';
}

/**
 * Seconds to wait after the attempt-th consecutive failure (attempt ≥ 1): exponential growth
 * with jitter, so that many agents failing against one server do not retry in lockstep.
 * `random` returns [0, 1); `previousSeconds` is the last delay (decorrelated jitter only).
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number, previousSeconds?: number): number {
  const initial = Math.max(1, policy.initialSeconds);
  const max = Math.max(initial, policy.maxSeconds);
  if (policy.jitter === 'decorrelated') {
    const prev = Math.max(initial, previousSeconds ?? initial);
    return Math.min(max, initial + random() * (prev * 3 - initial));
  }
  const ceiling = Math.min(max, initial * 2 ** Math.min(Math.max(0, attempt - 1), 52));
  return Math.max(1, random() * ceiling);
}

/** What the daemon knows about one entry: when it must next act on it, if it knows. */
export interface ScheduleState {
  /** The renewal point of the current certificate, or the retry time after a failure. */
  nextAt: Date | undefined;
}

/**
 * When the daemon wakes next: the earliest next action of any entry, never in the past, and
 * no later than maxSleepSeconds from now (the certificate files are read again then, in case
 * something else replaced them; and timers do not run across a machine's suspend).
 */
export function nextWake(states: readonly ScheduleState[], now: Date, maxSleepSeconds = 3600): Date {
  const limit = now.getTime() + maxSleepSeconds * 1000;
  let at = limit;
  for (const s of states) if (s.nextAt && s.nextAt.getTime() < at) at = s.nextAt.getTime();
  return new Date(Math.max(at, now.getTime()));
}
