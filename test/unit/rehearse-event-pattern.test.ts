import { describe, expect, it } from 'vitest';
import { EventPatternError, matchesEventPattern } from '../../lib/rehearse/event-pattern.js';
import { contract } from '../support/contracts.js';

interface PatternCase {
  readonly name: string;
  readonly pattern: unknown;
  readonly event: string | Record<string, unknown>;
  readonly matches: boolean;
}
const recorded = contract<{ events: Record<string, unknown>; cases: PatternCase[] }>(
  'eventbridge/event-patterns.json',
);

describe('EventBridge pattern matcher against the documented examples', () => {
  it('has the recorded cases', () => {
    expect(recorded.cases.length).toBeGreaterThanOrEqual(40);
  });
  for (const c of recorded.cases) {
    it(`${c.name} -> ${c.matches ? 'matches' : 'does not match'}`, () => {
      const event = typeof c.event === 'string' ? recorded.events[c.event] : c.event;
      expect(event, `event ${String(c.event)}`).toBeDefined();
      expect(matchesEventPattern(c.pattern, event)).toBe(c.matches);
    });
  }
});

describe('EventBridge pattern matcher: the rules of the grammar', () => {
  it('a field absent from the event matches only exists:false', () => {
    expect(matchesEventPattern({ a: ['x'] }, {})).toBe(false);
    expect(matchesEventPattern({ a: [{ 'anything-but': 'x' }] }, {})).toBe(false);
    expect(matchesEventPattern({ a: [{ exists: false }] }, {})).toBe(true);
  });
  it('numbers compare by value, strings never equal numbers', () => {
    expect(matchesEventPattern({ n: [300] }, { n: 3e2 })).toBe(true);
    expect(matchesEventPattern({ n: ['300'] }, { n: 300 })).toBe(false);
    expect(matchesEventPattern({ n: [{ numeric: ['>', 1] }] }, { n: '5' })).toBe(false);
  });
  it('wildcard escapes and anchors', () => {
    expect(matchesEventPattern({ f: [{ wildcard: 'dir/*.png' }] }, { f: 'dir/a/b.png' })).toBe(true);
    expect(matchesEventPattern({ f: [{ wildcard: 'dir/*.png' }] }, { f: 'xdir/a.png' })).toBe(false);
    expect(matchesEventPattern({ f: [{ wildcard: 'a\\*b' }] }, { f: 'a*b' })).toBe(true);
    expect(matchesEventPattern({ f: [{ wildcard: 'a\\*b' }] }, { f: 'axxb' })).toBe(false);
  });
  it.each([
    [{ a: 'x' }, 'a'],
    [{ a: [] }, 'a'],
    [{ d: { a: [{ numeric: ['~', 1] }] } }, 'd.a'],
    [{ a: [{ prefix: 1 }] }, 'a'],
    [{ a: [{ 'anything-but': [1, 'x'] }] }, 'a'],
    [{ a: [{ wildcard: 'a**b' }] }, 'a'],
    [{ a: [{ exists: 'yes' }] }, 'a'],
    [{ a: [{ shout: 'x' }] }, 'a'],
    [{ $or: [{ a: ['x'] }] }, '$or'],
  ])('rejects %j naming the field %s', (pattern, field) => {
    const error = (() => {
      try {
        matchesEventPattern(pattern, { a: 'x', d: { a: 1 } });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(EventPatternError);
    expect((error as EventPatternError).path).toBe(field);
  });
});
