/**
 * A profile's certificate validity, kept in seconds so that short-lived certificates (`8h`,
 * `90m`) are as exact as long-lived ones (`397d`). Text in and out: a number with a unit, or
 * several (`1d12h`); a bare number is days, as profiles were given before.
 */

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };
export const DAY_SECONDS = 86_400;

/** The shortest and longest validity a profile may give: one minute to ten years. */
export const VALIDITY_LIMITS = { minSeconds: 60, maxSeconds: 3650 * DAY_SECONDS } as const;

/**
 * "30d", "8h", "90m", "45s", "1d12h", or a bare number of days ("365"); undefined when the text
 * is none of these (the caller says what is expected: VALIDITY_HINT).
 */
export function parseValidity(text: string): number | undefined {
  const t = text.trim().toLowerCase();
  if (/^\d+$/.test(t)) return Number(t) * DAY_SECONDS;
  if (!/^(\d+\s*[smhd]\s*)+$/.test(t)) return undefined;
  let seconds = 0;
  for (const m of t.matchAll(/(\d+)\s*([smhd])/g)) seconds += Number(m[1]) * UNIT_SECONDS[m[2]!]!;
  return seconds;
}

export const VALIDITY_HINT = 'a duration such as 30d, 8h, 90m or 1d12h (a bare number is days), from 1m to 3650d';

/** Why a validity in seconds cannot be a profile's; undefined when it can. */
export function validityError(seconds: unknown): string | undefined {
  const { minSeconds, maxSeconds } = VALIDITY_LIMITS;
  if (typeof seconds === 'number' && Number.isInteger(seconds) && seconds >= minSeconds && seconds <= maxSeconds) return undefined;
  return `expected ${VALIDITY_HINT}, got ${typeof seconds === 'number' ? formatValidity(seconds) : JSON.stringify(seconds) ?? String(seconds)}`;
}

/** The shortest exact text: 30d, 8h, 90m, 1d12h, 45s. */
export function formatValidity(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds <= 0 || !Number.isInteger(seconds)) return `${seconds}s`;
  let rest = seconds;
  let text = '';
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      text += `${n}${unit}`;
      rest -= n * size;
    }
  }
  // "90m" reads better than "1h30m" for a short life; a whole number of minutes under a day stays in minutes
  if (seconds < DAY_SECONDS && seconds % 3600 !== 0 && seconds % 60 === 0) return `${seconds / 60}m`;
  return text;
}

/** Whole days at least one, for readers that know only days (older instances, `validity_days`). */
export function wholeDaysOf(seconds: number): number {
  return Math.max(1, Math.ceil(seconds / DAY_SECONDS));
}
