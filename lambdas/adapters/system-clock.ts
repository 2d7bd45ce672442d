/**
 * The system's clock, timers and randomness: the {@link Ambient} the composition roots hand to
 * the domain, which reads none of them itself (so a test can run a use case on a clock of its own).
 */
import { type BackoffOptions, backoffMs } from '../domain/backoff.js';
import type { Ambient, Sleep } from '../domain/ports.js';

/** `setTimeout` as a promise; an abort resolves it early and clears the timer. */
export const systemSleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

/**
 * `Date.now`, `performance.now`, {@link systemSleep} and `Math.random`, looked up on each call (as the domain's
 * former `Date.now` defaults were), so a clock installed later (test fake timers) is the one read.
 */
export const systemAmbient: Ambient = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  sleep: systemSleep,
  random: () => Math.random(),
};

/** Waits {@link backoffMs} (drawn from `Math.random`) before retry number `attempt`. */
export function backoff(attempt: number, options: BackoffOptions): Promise<void> {
  return systemSleep(backoffMs(attempt, options, Math.random));
}
