import { describe, expect, it } from 'vitest';
import { backoffDelay, DEFAULT_RENEW_AT, formatRenewAt, nextWake, parseRenewAt, renewalPoint } from '../../src/client/renew-schedule.js';

const T0 = new Date('2030-01-01T00:00:00Z');
const at = (s: number): Date => new Date(T0.getTime() + s * 1000);

describe('parseRenewAt', () => {
  it('reads percentages of the lifetime and durations before expiry', () => {
    expect(parseRenewAt('66%')).toEqual({ kind: 'fraction', fraction: 0.66 });
    expect(parseRenewAt(' 50.5 % ')).toEqual({ kind: 'fraction', fraction: 0.505 });
    expect(parseRenewAt('30d')).toEqual({ kind: 'before', seconds: 30 * 86_400 });
    expect(parseRenewAt('12h')).toEqual({ kind: 'before', seconds: 12 * 3600 });
    expect(parseRenewAt('15m')).toEqual({ kind: 'before', seconds: 900 });
    expect(parseRenewAt('90s')).toEqual({ kind: 'before', seconds: 90 });
    expect(parseRenewAt('2w')).toEqual({ kind: 'before', seconds: 14 * 86_400 });
    expect(parseRenewAt('1d12h')).toEqual({ kind: 'before', seconds: 36 * 3600 });
    expect(parseRenewAt('1D 6H')).toEqual({ kind: 'before', seconds: 30 * 3600 });
  });

  it('refuses what it cannot read, saying what it expects', () => {
    for (const bad of ['', '66', '0%', '100%', '150%', '-5%', '30x', 'd', '0s', 'soon', '3.5d']) {
      expect(() => parseRenewAt(bad), bad).toThrow(/percentage|duration/);
    }
  });

  it('formats for logs', () => {
    expect(formatRenewAt(DEFAULT_RENEW_AT)).toBe('66.67%');
    expect(formatRenewAt({ kind: 'before', seconds: 90 })).toBe('90s before expiry');
  });
});

describe('renewalPoint', () => {
  it('defaults to two thirds of the lifetime', () => {
    expect(renewalPoint(T0, at(90), DEFAULT_RENEW_AT)).toEqual(at(60));
    expect(renewalPoint(T0, at(90 * 86_400), DEFAULT_RENEW_AT)).toEqual(at(60 * 86_400));
  });

  it('takes a percentage of the lifetime elapsed', () => {
    expect(renewalPoint(T0, at(100), { kind: 'fraction', fraction: 0.25 })).toEqual(at(25));
    expect(renewalPoint(T0, at(1000), parseRenewAt('90%'))).toEqual(at(900));
  });

  it('takes a duration before notAfter', () => {
    expect(renewalPoint(T0, at(90 * 86_400), parseRenewAt('30d'))).toEqual(at(60 * 86_400));
    expect(renewalPoint(T0, at(3600), parseRenewAt('90s'))).toEqual(at(3510));
  });

  it('never earlier than half the lifetime: a duration longer than the certificate would renew it forever', () => {
    expect(renewalPoint(T0, at(10 * 86_400), parseRenewAt('30d'))).toEqual(at(5 * 86_400));
    expect(renewalPoint(T0, at(60), parseRenewAt('90s'))).toEqual(at(30));
  });

  it('a certificate whose notAfter is before its notBefore is due at once', () => {
    expect(renewalPoint(at(100), at(50), DEFAULT_RENEW_AT)).toEqual(at(100));
  });
});

describe('backoffDelay', () => {
  const policy = { initialSeconds: 30, maxSeconds: 3600 };

  it('full jitter: uniform below an exponentially growing ceiling, capped at max', () => {
    const top = (attempt: number): number => backoffDelay(attempt, policy, () => 0.999999);
    expect(top(1)).toBeCloseTo(30, 3);
    expect(top(2)).toBeCloseTo(60, 3);
    expect(top(3)).toBeCloseTo(120, 3);
    expect(top(7)).toBeCloseTo(1920, 2);
    expect(top(8)).toBeCloseTo(3600, 2);
    expect(top(1000)).toBeCloseTo(3600, 2);
    expect(backoffDelay(5, policy, () => 0.5)).toBe(240);
    expect(backoffDelay(3, policy, () => 0)).toBe(1); // never a zero delay
  });

  it('full jitter spreads agents: the delays of one attempt differ with the randomness', () => {
    let seed = 42;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const delays = Array.from({ length: 200 }, () => backoffDelay(4, policy, random));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...delays)).toBeLessThanOrEqual(240);
    expect(new Set(delays.map(Math.round)).size).toBeGreaterThan(100);
    const mean = delays.reduce((a, b) => a + b, 0) / delays.length;
    expect(mean).toBeGreaterThan(90);
    expect(mean).toBeLessThan(150);
  });

  it('decorrelated jitter: between initial and three times the previous delay, capped', () => {
    const d = { ...policy, jitter: 'decorrelated' as const };
    expect(backoffDelay(1, d, () => 0)).toBe(30);
    expect(backoffDelay(1, d, () => 0.999999)).toBeCloseTo(90, 3);
    expect(backoffDelay(2, d, () => 0.999999, 90)).toBeCloseTo(270, 3);
    expect(backoffDelay(9, d, () => 0.999999, 3000)).toBe(3600);
    expect(backoffDelay(9, d, () => 0, 3000)).toBe(30);
  });

  it('a max below initial and an initial below one second are treated sensibly', () => {
    expect(backoffDelay(5, { initialSeconds: 0, maxSeconds: 0 }, () => 0.999999)).toBeCloseTo(1, 3);
    expect(backoffDelay(5, { initialSeconds: 60, maxSeconds: 10 }, () => 0.999999)).toBeCloseTo(60, 3);
  });
});

describe('nextWake', () => {
  it('the earliest next action, never in the past, at most maxSleep ahead', () => {
    expect(nextWake([{ nextAt: at(500) }, { nextAt: at(200) }, { nextAt: undefined }], T0)).toEqual(at(200));
    expect(nextWake([{ nextAt: at(-50) }, { nextAt: at(200) }], T0)).toEqual(T0);
    expect(nextWake([{ nextAt: at(90 * 86_400) }], T0)).toEqual(at(3600));
    expect(nextWake([{ nextAt: at(90 * 86_400) }], T0, 86_400)).toEqual(at(86_400));
    expect(nextWake([], T0, 60)).toEqual(at(60));
  });
});
