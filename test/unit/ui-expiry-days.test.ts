/** The Web RA says when a certificate expires in calendar days of the browser's zone: tomorrow is not "today". */
import { describe, expect, it } from 'vitest';
import { calendarDaysUntil, inCalendarDays } from '../../src/admin-ui/format.js';

/** A local time (the zone the test runs in), as the browser would see it. */
const local = (y: number, m: number, d: number, h: number, min = 0): number => new Date(y, m - 1, d, h, min).getTime();

describe('expiry in calendar days', () => {
  it('counts calendar days, not 24-hour spans', () => {
    const now = local(2026, 12, 6, 23, 0);
    expect(inCalendarDays(new Date(local(2026, 12, 6, 23, 30)).toISOString(), now)).toBe('today');
    // two hours away, but on the next calendar day
    expect(calendarDaysUntil(new Date(local(2026, 12, 7, 1, 0)).toISOString(), now)).toBe(1);
    expect(inCalendarDays(new Date(local(2026, 12, 7, 1, 0)).toISOString(), now)).toBe('tomorrow');
    // 47 hours away, two calendar days
    expect(inCalendarDays(new Date(local(2026, 12, 8, 22, 0)).toISOString(), now)).toBe('in 2 days');
    expect(inCalendarDays(new Date(local(2026, 12, 6, 22, 0)).toISOString(), now)).toBe('expired');
    expect(inCalendarDays(new Date(local(2027, 1, 5, 12, 0)).toISOString(), now)).toBe('in 30 days');
  });
});
