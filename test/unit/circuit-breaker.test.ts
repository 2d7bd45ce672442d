import { describe, expect, it } from 'vitest';
import { CircuitBreaker, ServiceBreakers } from '../../lambdas/domain/circuit-breaker.js';

const ok = { ok: true, latencyMs: 10 };
const failed = { ok: false, latencyMs: 10 };

function setup(options: ConstructorParameters<typeof CircuitBreaker>[0] = {}) {
  const clock = { now: 1_000_000 };
  const breaker = new CircuitBreaker(
    {
      windowMs: 10_000,
      minRequests: 10,
      errorRateThreshold: 0.5,
      openMs: 5_000,
      halfOpenSuccesses: 2,
      ...options,
    },
    () => clock.now,
  );
  const calls = (n: number, outcome: { ok: boolean; latencyMs: number }) => {
    for (let i = 0; i < n; i++) breaker.record(breaker.acquire(), outcome);
  };
  return { clock, breaker, calls };
}

describe('Class: CircuitBreaker', () => {
  it('stays closed below the minimum number of calls, even if all fail', () => {
    const { breaker, calls } = setup();
    calls(9, failed);
    expect(breaker.state).toBe('closed');
    calls(1, failed);
    expect(breaker.state).toBe('open');
    expect(breaker.acquire()).toBe('rejected');
  });

  it('opens at the error-rate threshold, not below it', () => {
    const { breaker, calls } = setup();
    calls(6, ok);
    calls(5, failed); // 5/11 < 0.5
    expect(breaker.state).toBe('closed');
    calls(1, failed); // 6/12 = 0.5
    expect(breaker.state).toBe('open');
  });

  it('opens on slow calls', () => {
    const { breaker, calls } = setup({ slowCallMs: 500, slowCallRateThreshold: 0.8 });
    calls(2, ok);
    calls(8, { ok: true, latencyMs: 900 });
    expect(breaker.state).toBe('open');
  });

  it('forgets outcomes that slid out of the window', () => {
    const { clock, breaker, calls } = setup();
    calls(9, failed);
    clock.now += 10_001;
    calls(1, failed);
    expect(breaker.window()).toEqual({ calls: 1, failures: 1, slow: 0 });
    expect(breaker.state).toBe('closed');
    // Half the window later the older slice still counts.
    clock.now += 5_000;
    calls(8, failed);
    expect(breaker.window().calls).toBe(9);
    calls(1, failed);
    expect(breaker.state).toBe('open');
  });

  it('recovers through half-open: probes after openMs, closes after enough successful probes', () => {
    const { clock, breaker, calls } = setup();
    calls(10, failed);
    clock.now += 4_999;
    expect(breaker.acquire()).toBe('rejected');
    clock.now += 1;
    expect(breaker.state).toBe('half-open');
    const p1 = breaker.acquire();
    expect(p1).toBe('probe');
    expect(breaker.acquire()).toBe('rejected'); // one probe at a time
    breaker.record(p1, ok);
    expect(breaker.state).toBe('half-open');
    breaker.record(breaker.acquire(), ok);
    expect(breaker.state).toBe('closed');
    expect(breaker.window().calls).toBe(0); // a fresh window after closing
    expect(breaker.acquire()).toBe('call');
  });

  it('opens again when a probe fails, for another openMs', () => {
    const { clock, breaker, calls } = setup();
    calls(10, failed);
    clock.now += 5_000;
    breaker.record(breaker.acquire(), failed);
    expect(breaker.state).toBe('open');
    clock.now += 4_000;
    expect(breaker.acquire()).toBe('rejected');
    clock.now += 1_000;
    expect(breaker.acquire()).toBe('probe');
  });

  it('frees the slot of a probe that never reported back', () => {
    const { clock, breaker, calls } = setup();
    calls(10, failed);
    clock.now += 5_000;
    expect(breaker.acquire()).toBe('probe');
    clock.now += 4_999;
    expect(breaker.acquire()).toBe('rejected');
    clock.now += 1;
    expect(breaker.acquire()).toBe('probe');
  });

  it('ignores outcomes of calls that started before the breaker opened', () => {
    const { breaker, calls } = setup();
    const late = breaker.acquire();
    calls(10, failed);
    breaker.record(late, ok);
    expect(breaker.state).toBe('open');
  });

  it('rejects impossible settings', () => {
    expect(() => new CircuitBreaker({ windowMs: 5, windowBuckets: 10 }, Date.now)).toThrow(RangeError);
    expect(() => new CircuitBreaker({ halfOpenProbes: 0 }, Date.now)).toThrow(RangeError);
  });
});

describe('Class: ServiceBreakers', () => {
  it('keeps one breaker per service and hands each admitted call its permit', () => {
    const clock = { now: 0 };
    const b = new ServiceBreakers({ minRequests: 2, openMs: 1_000, halfOpenSuccesses: 1 }, () => clock.now);
    for (let i = 0; i < 2; i++) {
      expect(b.admit('customer')).toBe(true);
      b.record('customer', b.takePermit('customer'), failed);
    }
    expect(b.admit('customer')).toBe(false);
    expect(b.isHealthy('customer')).toBe(false);
    expect(b.admit('catalog')).toBe(true);
    expect(b.isHealthy('catalog')).toBe(true);
    clock.now += 1_000;
    expect(b.admit('customer')).toBe(true);
    expect(b.takePermit('customer')).toBe('probe');
  });
});
