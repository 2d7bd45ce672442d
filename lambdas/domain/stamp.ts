/**
 * Stamps order changes. A stamp is when a change happened (`at`, ms since epoch), on which side
 * (`origin`), and a per-origin sequence that orders changes of one origin with the same `at`.
 *
 * Two stamps of different origins whose times fall in the same legacy-precision tick (Magento's
 * `updated_at` has one-second precision) are a tie: neither clock can say which came first.
 * A tie is broken deterministically in favour of the entity's `tieBreak` side (default: the
 * service, whose clock has millisecond precision and which owns the data after cutover) — it is
 * never skipped silently, and it is reported as a conflict.
 */
import type { ChangeEvent, Origin } from './events.js';

export interface Stamp {
  /** Milliseconds since the epoch. */
  readonly at: number;
  readonly origin: Origin;
  /** Orders changes of one origin with the same `at`. */
  readonly seq: number;
}

export interface StampOrder {
  /** Precision of legacy timestamps in ms (Magento: 1000). */
  readonly precisionMs: number;
  /** The side that wins a cross-origin tie. */
  readonly tieBreak: Origin;
}

/** A sequence larger than any real one: "every change of this tick". */
export const SEQ_ALL = Number.MAX_SAFE_INTEGER;

export function stampOf(event: Pick<ChangeEvent, 'changedAt' | 'origin' | 'sequence'>): Stamp {
  return { at: Date.parse(event.changedAt), origin: event.origin, seq: event.sequence ?? 0 };
}

/**
 * Total order on stamps: negative when `a` is older than `b`, 0 when equal.
 * Same origin: by time, then sequence. Different origins: by tick of the legacy precision, then
 * the tie-break side wins.
 */
export function compareStamps(a: Stamp, b: Stamp, order: StampOrder): number {
  if (a.origin === b.origin) {
    return a.at !== b.at ? Math.sign(a.at - b.at) : Math.sign(a.seq - b.seq);
  }
  const ta = Math.floor(a.at / order.precisionMs);
  const tb = Math.floor(b.at / order.precisionMs);
  if (ta !== tb) return Math.sign(ta - tb);
  return a.origin === order.tieBreak ? 1 : -1;
}

export function maxStamp(a: Stamp | undefined, b: Stamp | undefined, order: StampOrder): Stamp | undefined {
  if (!a) return b;
  if (!b) return a;
  return compareStamps(a, b, order) >= 0 ? a : b;
}

/** Whether two stamps of one origin are cross-origin tied (for reporting ties). */
export function isTie(a: Stamp, b: Stamp, order: StampOrder): boolean {
  return (
    a.origin !== b.origin && Math.floor(a.at / order.precisionMs) === Math.floor(b.at / order.precisionMs)
  );
}
