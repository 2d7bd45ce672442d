/**
 * The poller's invocation: polls its entities every `pollerIntervalSeconds` for the length of
 * the schedule's period (continuous), or once, under a lease so that only one invocation polls.
 *
 * Why a lease and a handover rather than "stop before the next invocation": the schedule starts
 * an invocation every period, but EventBridge and a cold start deliver it seconds late, so an
 * invocation that stopped before the next one started would leave a gap of seconds with nobody
 * polling, at every period, longer than the 5 s lag target. Instead each invocation may run
 * `handoverMs` past its period; the next one asks it to hand over as soon as it starts, and the
 * holder stops at its next tick. The lease is what keeps the two from both polling:
 *
 * - only the holder polls; it renews the lease at every tick and again right before every
 *   publish, so an invocation that lost it (it stalled past the lease period and another took
 *   over) publishes nothing further (`LeaseLostError`), and its watermark stays where it was;
 * - the watermark is still a compare-and-set (two writers never both advance it) and moves only
 *   after the publish succeeded (poller.ts), so a failed publish is retried from the same place
 *   at the next tick.
 *
 * Bounds: a change is usually read at the first tick after its commit (a young row, poller.ts);
 * one committed late with an earlier `updated_at` at most `pollerLagBoundSeconds` after its
 * commit (overlap + the second it was written in + one interval) while a holder polls; ticks
 * fall just after each wall-clock second, when one more second becomes safe. At a handover at
 * most one more interval; when a holder dies, at most `leaseTtlMs` more. The young versions a
 * holder published go to the next holder with the lease (`saveHandoff`), so a handover
 * publishes none of them twice.
 */
import type { EntitySpec, MigrationSpec, SyncSettings } from '../../lib/spec/schema.js';
import { type PollerDeps, type PollResult, pollEntity, snapshotFields } from './poller.js';
import type { EventPublisher, PollerHandoff, PollerLease, PublishedAhead, Sleep } from './ports.js';

/** How one poller invocation is timed (all derived from the spec's sync settings). */
export interface PollerTiming {
  /** The schedule's period: one invocation starts every `periodMs`. */
  readonly periodMs: number;
  /** Between two polls of an entity (keyset, and snapshots of `strong` entities). */
  readonly intervalMs: number;
  /** Between two snapshot comparisons of an `eventual` entity. */
  readonly snapshotIntervalMs: number;
  /** How long past its period an invocation keeps polling until its successor takes over. */
  readonly handoverMs: number;
  /** No poll starts later than this before the function's deadline (one keyset page + publish). */
  readonly safetyMs: number;
  /** How long the lease lasts after each renewal. */
  readonly leaseTtlMs: number;
  /** The function timeout the stack sets: period + handover + safety (seconds). */
  readonly timeoutSeconds: number;
}

/** The timing of a spec's poller. One source for the stack (timeout) and the handler (loop). */
export function pollerTiming(sync: SyncSettings): PollerTiming {
  const periodMs = sync.pollerIntervalMinutes * 60_000;
  const intervalMs = sync.pollerIntervalSeconds * 1000;
  // The next invocation arrives seconds late (EventBridge delivery, a cold start in the VPC).
  const handoverMs = 30_000;
  const safetyMs = 10_000;
  return {
    periodMs,
    intervalMs,
    snapshotIntervalMs: sync.pollerSnapshotIntervalSeconds * 1000,
    handoverMs,
    safetyMs,
    leaseTtlMs: Math.max(10_000, 3 * intervalMs),
    timeoutSeconds: (periodMs + handoverMs + safetyMs) / 1000,
  };
}

/** How often an entity's snapshot comparison runs (ms). */
export function snapshotIntervalMs(entity: EntitySpec, timing: PollerTiming): number {
  return entity.consistency === 'strong' ? timing.intervalMs : timing.snapshotIntervalMs;
}

/** The holder lost its lease (another invocation took it over): it must not publish. */
export class LeaseLostError extends Error {
  constructor(owner: string) {
    super(`poller lease lost by ${owner}: another invocation polls now`);
    this.name = 'LeaseLostError';
  }
}

export interface PollerLoopDeps extends PollerDeps {
  readonly spec: MigrationSpec;
  readonly lease: PollerLease;
  /** The wait between ticks. */
  readonly sleep: Sleep;
  /** Called for each failed poll of an entity (the loop goes on with the next one). */
  readonly onError?: (entity: EntitySpec, error: unknown) => void;
  /** Called after each successful poll of an entity. */
  readonly onPolled?: (entity: EntitySpec, result: PollResult) => void;
}

export interface PollerRun {
  readonly entities: readonly EntitySpec[];
  /** This invocation's lease owner id (unique per invocation). */
  readonly owner: string;
  /** The function's deadline (ms since the epoch). */
  readonly deadline: number;
  /** Poll for the schedule's period (and hand over), or once. */
  readonly continuous: boolean;
  readonly timing: PollerTiming;
}

/** Per entity, over the whole invocation. */
export interface EntityTally {
  polls: number;
  published: number;
  chunksChanged: number;
  failures: number;
  /** The last failure's reason (masked by the caller's `describe`). */
  lastError?: unknown;
}

/**
 * Why the invocation stopped: `once` (a single pass done), `handover` (the next invocation took
 * over), `period` (its period and handover window are over), `deadline` (the function's
 * deadline is near), `lease-lost`, or `lease-busy` (another invocation held the lease throughout).
 */
export type StopReason = 'once' | 'handover' | 'period' | 'deadline' | 'lease-lost' | 'lease-busy';

export interface PollerRunResult {
  readonly entities: Readonly<Record<string, EntityTally>>;
  readonly ticks: number;
  readonly stoppedBy: StopReason;
  /** How long the invocation waited for the lease (ms). */
  readonly waitedMs: number;
  /** The holder's id when the lease stayed busy. */
  readonly busyHolder?: string;
}

/** How long after a wall-clock second a tick starts. */
const TICK_OFFSET_MS = 50;

/** At most this many young rows per entity are handed over (the rest may be published twice). */
export const HANDOFF_LIMIT = 500;

async function loadAhead(
  lease: PollerLease,
  entities: readonly EntitySpec[],
): Promise<Map<string, Map<string, PublishedAhead>>> {
  const left = await lease.loadHandoff().catch((): PollerHandoff => ({}));
  return new Map(entities.map((e) => [e.name, new Map(Object.entries(left[e.name] ?? {}))]));
}

function handoffOf(ahead: ReadonlyMap<string, ReadonlyMap<string, PublishedAhead>>): PollerHandoff {
  const out: Record<string, Record<string, PublishedAhead>> = {};
  for (const [entity, rows] of ahead) {
    // The newest versions are the ones the next holder is likely to read again.
    const newest = [...rows].sort((a, b) => b[1].at - a[1].at).slice(0, HANDOFF_LIMIT);
    if (newest.length) out[entity] = Object.fromEntries(newest);
  }
  return out;
}

/** Runs one poller invocation (see the module comment). */
export async function runPoller(deps: PollerLoopDeps, run: PollerRun): Promise<PollerRunResult> {
  const { now, sleep } = deps;
  const { timing, owner } = run;
  const started = now();
  const hardEnd = run.deadline - timing.safetyMs;
  const softEnd = run.continuous ? Math.min(started + timing.periodMs + timing.handoverMs, hardEnd) : hardEnd;
  const tallies: Record<string, EntityTally> = Object.fromEntries(
    run.entities.map((e) => [e.name, { polls: 0, published: 0, chunksChanged: 0, failures: 0 }]),
  );

  // Take the lease; a continuous invocation asks the holder to hand over and waits for it.
  let lease = await deps.lease.acquire(owner, now(), timing.leaseTtlMs);
  while (!lease.held) {
    if (!run.continuous || now() + timing.intervalMs >= softEnd) {
      return {
        entities: tallies,
        ticks: 0,
        stoppedBy: 'lease-busy',
        waitedMs: now() - started,
        ...(lease.holder ? { busyHolder: lease.holder } : {}),
      };
    }
    await deps.lease.requestHandover(owner, now());
    await sleep(timing.intervalMs);
    lease = await deps.lease.acquire(owner, now(), timing.leaseTtlMs);
  }
  const waitedMs = now() - started;

  // Only the holder publishes: the lease is renewed (and checked) right before every publish.
  const publisher: EventPublisher = {
    publish: async (entries) => {
      const renewed = await deps.lease.acquire(owner, now(), timing.leaseTtlMs);
      if (!renewed.held) throw new LeaseLostError(owner);
      await deps.publisher.publish(entries);
    },
  };
  const pollDeps: PollerDeps = { ...deps, publisher };
  const lastSnapshot = new Map<string, number>();
  // The young rows the last holder published, so that a handover publishes none of them twice.
  const ahead = await loadAhead(deps.lease, run.entities);
  let ticks = 0;
  let stoppedBy: StopReason | undefined;
  try {
    for (;;) {
      const tickAt = now();
      for (const entity of run.entities) {
        if (now() >= hardEnd) {
          stoppedBy = 'deadline';
          break;
        }
        const last = lastSnapshot.get(entity.name);
        const snapshots =
          snapshotFields(entity).length > 0 &&
          (last === undefined || tickAt - last >= snapshotIntervalMs(entity, timing));
        const tally = tallies[entity.name]!;
        try {
          const r = await pollEntity(pollDeps, entity, {
            snapshots,
            until: hardEnd,
            publishedAhead: ahead.get(entity.name)!,
          });
          tally.polls++;
          tally.published += r.published;
          tally.chunksChanged += r.chunksChanged;
          if (snapshots) lastSnapshot.set(entity.name, tickAt);
          deps.onPolled?.(entity, r);
        } catch (e) {
          if (e instanceof LeaseLostError) {
            stoppedBy = 'lease-lost';
            break;
          }
          tally.failures++;
          tally.lastError = e;
          deps.onError?.(entity, e);
        }
      }
      ticks++;
      if (stoppedBy) break;
      if (!run.continuous) {
        stoppedBy = 'once';
        break;
      }
      // The next tick falls just after a wall-clock second: poller.ts reads whole seconds, so
      // that is when the rows of one more second become readable (no up-to-1 s wait on top).
      const next = Math.floor((tickAt + timing.intervalMs) / 1000) * 1000 + TICK_OFFSET_MS;
      if (next >= softEnd) {
        stoppedBy = softEnd < hardEnd ? 'period' : 'deadline';
        break;
      }
      await sleep(Math.max(0, next - now()));
      lease = await deps.lease.acquire(owner, now(), timing.leaseTtlMs);
      if (!lease.held) {
        stoppedBy = 'lease-lost';
        break;
      }
      if (lease.handoverRequested) {
        stoppedBy = 'handover';
        break;
      }
    }
  } finally {
    // Hand the lease on at once (a lost lease is someone else's to keep), with the young rows
    // published: lost, the next holder would publish them once more (the sync skips those).
    if (stoppedBy !== 'lease-lost') {
      await deps.lease.saveHandoff(handoffOf(ahead)).catch(() => undefined);
      await deps.lease.release(owner).catch(() => undefined);
    }
  }
  return { entities: tallies, ticks, stoppedBy: stoppedBy ?? 'deadline', waitedMs };
}
