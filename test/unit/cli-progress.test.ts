/**
 * The progress line of long CLI work (lib/cli/progress.ts): rewritten in place on a terminal,
 * plain lines when stderr is not a terminal or CI is set.
 */
import { describe, expect, it } from 'vitest';
import { isLive, progress } from '../../lib/cli/progress.js';

function stream(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, isTTY, write: (t: string) => writes.push(t) };
}

describe('progress', () => {
  it('not a terminal: plain lines, one per change, no control characters', () => {
    const s = stream(false);
    const p = progress({ stream: s, env: {} });
    expect(p.live).toBe(false);
    p.update('customer: canary-10 baking');
    p.update('customer: canary-10 baking');
    p.update('customer: canary-25 baking');
    p.log('gate passed');
    p.stop();
    p.update('after stop');
    expect(s.writes.join('')).toBe('customer: canary-10 baking\ncustomer: canary-25 baking\ngate passed\n');
  });

  it('CI=true on a terminal: plain lines too', () => {
    const s = stream(true);
    expect(isLive(s, { CI: 'true' })).toBe(false);
    expect(isLive(s, { CI: 'false' })).toBe(true);
    expect(isLive(s, {})).toBe(true);
    const p = progress({ stream: s, env: { CI: 'true' } });
    p.update('a');
    p.stop();
    expect(s.writes).toEqual(['a\n']);
  });

  it('plain lines at most every plainEveryMs (a run that reports often)', () => {
    const s = stream(false);
    let t = 0;
    const p = progress({ stream: s, env: {}, plainEveryMs: 5000, now: () => t });
    for (let i = 0; i < 12; i++) {
      p.update(`applied ${i}`);
      t += 1000;
    }
    expect(s.writes).toEqual(['applied 0\n', 'applied 5\n', 'applied 10\n']);
  });

  it('a terminal: the line is rewritten behind a spinner and cleared at the end', () => {
    const s = stream(true);
    const p = progress({ stream: s, env: {} });
    expect(p.live).toBe(true);
    p.update('moving: 3 moved');
    p.update('moving: 7 moved');
    p.log('note');
    p.stop();
    const CLEAR = '\r\u001b[K';
    expect(s.writes[0]!.startsWith(CLEAR) && s.writes[0]!.endsWith(' moving: 3 moved')).toBe(true);
    expect(s.writes[1]!.startsWith(CLEAR) && s.writes[1]!.endsWith(' moving: 7 moved')).toBe(true);
    expect(s.writes[0]!.slice(CLEAR.length, -' moving: 3 moved'.length)).not.toBe(
      s.writes[1]!.slice(CLEAR.length, -' moving: 7 moved'.length),
    );
    expect(s.writes).toContain('\r\u001b[Knote\n');
    expect(s.writes.at(-1)).toBe('\r\u001b[K');
  });
});
