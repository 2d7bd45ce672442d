import { describe, expect, it } from 'vitest';
import { judge } from '../../bench/rehearsal.bench.js';
import type { RehearsalReport } from '../../lib/rehearse/rehearsal.js';

/** The parts of a report `judge` reads: 10 s at `offered` changes, lags per direction. */
function report(o: {
  offered: number;
  forward: [number, number];
  reverse: [number, number];
  drainMs?: number;
  rows?: number;
  seconds?: number;
}): RehearsalReport {
  const lag = ([first, last]: [number, number]) => ({
    p50Ms: first,
    p99Ms: last,
    samples: 10,
    firstThirdP50Ms: first,
    lastThirdP50Ms: last,
  });
  return {
    settings: { durationMs: 10_000 },
    events: { offered: o.offered },
    phases: [
      {
        name: 'traffic',
        outcome: 'succeeded',
        durationMs: 10_500,
        detail: `${o.offered} changes offered in ${o.seconds ?? 10} s (x/s of y/s asked)`,
      },
      { name: 'drain', outcome: 'succeeded', durationMs: o.drainMs ?? 2000 },
    ],
    lag: { byDirection: { forward: lag(o.forward), reverse: lag(o.reverse) } },
    divergence: { rows: o.rows ?? 0 },
  } as unknown as RehearsalReport;
}

describe('bench rehearsal: whether a rate is held', () => {
  it('held: the rate offered, lags steady, a short drain, no rows differing', () => {
    expect(judge(report({ offered: 1000, forward: [3000, 2800], reverse: [150, 400] }), 100)).toEqual({
      held: true,
      why: [],
    });
  });

  it('not held when a queue builds up: the reverse median grows through the run and the drain is long', () => {
    const v = judge(
      report({ offered: 5000, forward: [3000, 3100], reverse: [2000, 14_000], drainMs: 30_000 }),
      500,
    );
    expect(v.held).toBe(false);
    expect(v.why).toEqual([
      'reverse: median lag grew from 2000 ms to 14000 ms through the run',
      'drain succeeded in 30000 ms',
    ]);
  });

  it('not held when the generator could not offer the rate, or only in a longer time', () => {
    const v = judge(report({ offered: 2100, forward: [3000, 3000], reverse: [100, 100] }), 500);
    expect(v.why).toEqual(['offered 2100 changes in 10 s (500/s for 10 s asked)']);
    const slow = judge(
      report({ offered: 5000, seconds: 23.4, forward: [3000, 3000], reverse: [100, 100] }),
      500,
    );
    expect(slow.why).toEqual(['offered 5000 changes in 23.4 s (500/s for 10 s asked)']);
  });
});
