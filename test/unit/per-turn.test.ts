import { describe, expect, it } from 'vitest';
import { perTurn } from '../../lambdas/adapters/per-turn.js';

describe('Function: perTurn', () => {
  it('runs the calls of one turn together, later calls in a later run, each with its own outcome', async () => {
    const runs: number[][] = [];
    const double = perTurn(async (items: readonly number[]) => {
      runs.push([...items]);
      return items.map((n) => (n < 0 ? { error: new Error(`negative ${n}`) } : { value: n * 2 }));
    });
    const first = await Promise.allSettled([double(1), double(-2), double(3)]);
    expect(first.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([
      2,
      'negative -2',
      6,
    ]);
    expect(await double(5)).toBe(10);
    expect(runs).toEqual([[1, -2, 3], [5]]);
  });

  it('fails every call of the turn when the run fails, and runs again afterwards', async () => {
    let fail = true;
    const f = perTurn(async (items: readonly string[]) => {
      if (fail) throw new Error('store down');
      return items.map((value) => ({ value }));
    });
    const results = await Promise.allSettled([f('a'), f('b')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    expect(await Promise.all([f('c'), f('d')])).toEqual(['c', 'd']);
  });

  it('fails a call the run gave no outcome for', async () => {
    const f = perTurn(async () => []);
    await expect(f(1)).rejects.toThrow('no outcome');
  });
});
