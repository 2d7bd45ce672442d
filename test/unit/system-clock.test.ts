import { afterEach, describe, expect, it, vi } from 'vitest';
import { backoff, systemAmbient, systemSleep } from '../../lambdas/adapters/system-clock.js';

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('Adapter: system clock', () => {
  it('sleeps for the time asked, and no longer', async () => {
    vi.useFakeTimers();
    let done = false;
    const slept = systemSleep(1_000).then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await slept;
    expect(done).toBe(true);
  });

  it('ends a sleep at once when its signal aborts, leaving no timer behind', async () => {
    vi.useFakeTimers();
    const abort = new AbortController();
    const slept = systemSleep(60_000, abort.signal);
    expect(vi.getTimerCount()).toBe(1);
    abort.abort();
    await slept;
    expect(vi.getTimerCount()).toBe(0);
    // Already aborted: no timer is set at all.
    await systemSleep(60_000, abort.signal);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("waits out backoffMs's delay drawn from Math.random", async () => {
    vi.useFakeTimers();
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    let done = false;
    const waited = backoff(2, { baseMs: 100 }).then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(199);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await waited;
    expect(done).toBe(true);
  });

  it("is the system's time and randomness, read on each call (a fake clock installed later is the one read)", () => {
    vi.useFakeTimers({ now: 1_700_000_000_000 });
    expect(systemAmbient.now()).toBe(1_700_000_000_000);
    vi.spyOn(Math, 'random').mockReturnValue(0.25);
    expect(systemAmbient.random()).toBe(0.25);
  });
});
