/** Display helpers: dates, ages, fingerprints, lists. */

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/** "3 min", "2 h 5 min", "4 days" */
export function formatAge(seconds: number): string {
  if (seconds < 60) return `${Math.max(0, Math.floor(seconds))} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} days`;
}

/**
 * Calendar days from today until an ISO date, in the browser's time zone: 0 today, 1 tomorrow
 * (however few hours away), negative when past.
 */
export function calendarDaysUntil(iso: string, now = Date.now()): number {
  const midnight = (t: number) => {
    const d = new Date(t);
    return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  };
  // rounded: a day across a daylight-saving change is 23 or 25 hours long
  return Math.round((midnight(new Date(iso).getTime()) - midnight(now)) / 86_400_000);
}

/** "today", "tomorrow", "in 5 days"; "expired" when past. */
export function inCalendarDays(iso: string, now = Date.now()): string {
  if (new Date(iso).getTime() < now) return 'expired';
  const n = calendarDaysUntil(iso, now);
  if (n <= 0) return 'today';
  return n === 1 ? 'tomorrow' : `in ${n} days`;
}

/** Whole 24-hour days from now until an ISO date (negative when past). */
export function daysUntil(iso: string, now = Date.now()): number {
  return Math.floor((new Date(iso).getTime() - now) / 86_400_000);
}

/** Hex (any case, with or without separators) as "AB:CD:…". */
export function formatFingerprint(hex: string): string {
  const clean = hex.replace(/[^0-9a-f]/gi, '').toUpperCase();
  return clean.match(/.{1,2}/g)?.join(':') ?? hex;
}

/** Lines of a textarea as a list: trimmed, empty lines dropped. */
export function lines(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
}
