/**
 * A circuit breaker per service, so that a failing service falls back to legacy within seconds,
 * before any CloudWatch alarm (minutes) rolls its flags back.
 *
 * - closed: calls flow; outcomes go into a sliding time window (ring of `windowBuckets` slices).
 *   When the window holds at least `minRequests` calls and either the error rate or the share of
 *   slow calls (slower than `slowCallMs`) reaches its threshold, the breaker opens.
 * - open: calls are refused for `openMs`.
 * - half-open: up to `halfOpenProbes` calls at a time are let through as probes. After
 *   `halfOpenSuccesses` successful probes the breaker closes (with an empty window); one failed
 *   (or slow) probe opens it again. A probe that never reports back frees its slot after `openMs`.
 *
 * Pure: the clock is injected, nothing here does I/O or sets timers. One breaker lives in each
 * gateway instance (each Lambda execution environment learns health on its own traffic).
 */
import type { Clock } from './ports.js';
import type { ServiceHealth } from './routing.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Length of the sliding window (ms). @default 10_000 */
  readonly windowMs?: number;
  /** Slices of the window; outcomes older than the window drop out slice by slice. @default 10 */
  readonly windowBuckets?: number;
  /** Calls the window must hold before it may trip. @default 20 */
  readonly minRequests?: number;
  /** Trip at or above this share of failed calls (errors, timeouts, 5xx). @default 0.5 */
  readonly errorRateThreshold?: number;
  /** A call slower than this (ms) is slow. @default 2_000 */
  readonly slowCallMs?: number;
  /** Trip at or above this share of slow calls. @default 0.8 */
  readonly slowCallRateThreshold?: number;
  /** How long the breaker stays open before probing (ms). @default 5_000 */
  readonly openMs?: number;
  /** Concurrent probes in half-open state. @default 1 */
  readonly halfOpenProbes?: number;
  /** Successful probes that close the breaker. @default 3 */
  readonly halfOpenSuccesses?: number;
}

export const DEFAULT_BREAKER_OPTIONS: Required<CircuitBreakerOptions> = Object.freeze({
  windowMs: 10_000,
  windowBuckets: 10,
  minRequests: 20,
  errorRateThreshold: 0.5,
  slowCallMs: 2_000,
  slowCallRateThreshold: 0.8,
  openMs: 5_000,
  halfOpenProbes: 1,
  halfOpenSuccesses: 3,
});

/** The outcome of one call to the service. */
export interface CallOutcome {
  /** False for a connection error, a timeout or a 5xx answer. */
  readonly ok: boolean;
  readonly latencyMs: number;
}

/** What `acquire` granted. */
export type Permit = 'call' | 'probe' | 'rejected';

export type { Clock } from './ports.js';

/** Counts of the current window (for tests and logs). */
export interface WindowStats {
  readonly calls: number;
  readonly failures: number;
  readonly slow: number;
}

export class CircuitBreaker {
  readonly options: Required<CircuitBreakerOptions>;
  private readonly clock: Clock;
  private readonly sliceMs: number;
  private readonly calls: Int32Array;
  private readonly failures: Int32Array;
  private readonly slow: Int32Array;
  /** Absolute slice number held by each ring position. */
  private readonly sliceOf: Float64Array;
  private stateValue: BreakerState = 'closed';
  private openedAt = 0;
  private probeGrants: number[] = [];
  private probeSuccesses = 0;

  constructor(options: CircuitBreakerOptions, clock: Clock) {
    this.options = { ...DEFAULT_BREAKER_OPTIONS, ...options };
    const o = this.options;
    if (o.windowBuckets < 1 || o.windowMs < o.windowBuckets) throw new RangeError('bad breaker window');
    if (o.halfOpenProbes < 1 || o.halfOpenSuccesses < 1) throw new RangeError('bad half-open settings');
    this.clock = clock;
    this.sliceMs = o.windowMs / o.windowBuckets;
    this.calls = new Int32Array(o.windowBuckets);
    this.failures = new Int32Array(o.windowBuckets);
    this.slow = new Int32Array(o.windowBuckets);
    this.sliceOf = new Float64Array(o.windowBuckets).fill(-1);
  }

  /** The state now (moves open -> half-open when `openMs` has passed). */
  get state(): BreakerState {
    if (this.stateValue === 'open' && this.clock() - this.openedAt >= this.options.openMs) {
      this.toHalfOpen();
    }
    return this.stateValue;
  }

  /**
   * Asks to call the service. `'call'` (closed) and `'probe'` (half-open) must be followed by
   * {@link record} with the same permit; `'rejected'` means: use legacy.
   */
  acquire(): Permit {
    const state = this.state;
    if (state === 'closed') return 'call';
    if (state === 'open') return 'rejected';
    const now = this.clock();
    // A probe whose caller never reported (crashed, frozen) frees its slot after openMs.
    this.probeGrants = this.probeGrants.filter((t) => now - t < this.options.openMs);
    if (this.probeGrants.length >= this.options.halfOpenProbes) return 'rejected';
    this.probeGrants.push(now);
    return 'probe';
  }

  /** Records the outcome of a call made under a permit. */
  record(permit: Permit, outcome: CallOutcome): void {
    if (permit === 'rejected') return;
    const slow = outcome.latencyMs >= this.options.slowCallMs;
    if (permit === 'probe') {
      this.probeGrants.shift();
      if (this.stateValue !== 'half-open') return; // a late probe after a state change
      if (!outcome.ok || slow) {
        this.trip();
      } else if (++this.probeSuccesses >= this.options.halfOpenSuccesses) {
        this.close();
      }
      return;
    }
    if (this.stateValue !== 'closed') return; // a call that started before the breaker opened
    const i = this.slot();
    this.calls[i]! += 1;
    if (!outcome.ok) this.failures[i]! += 1;
    if (slow) this.slow[i]! += 1;
    const w = this.window();
    if (w.calls < this.options.minRequests) return;
    if (
      w.failures / w.calls >= this.options.errorRateThreshold ||
      w.slow / w.calls >= this.options.slowCallRateThreshold
    ) {
      this.trip();
    }
  }

  /** Outcomes inside the sliding window now. */
  window(): WindowStats {
    const current = Math.floor(this.clock() / this.sliceMs);
    let calls = 0;
    let failures = 0;
    let slow = 0;
    for (let i = 0; i < this.calls.length; i++) {
      if (current - this.sliceOf[i]! < this.calls.length) {
        calls += this.calls[i]!;
        failures += this.failures[i]!;
        slow += this.slow[i]!;
      }
    }
    return { calls, failures, slow };
  }

  private slot(): number {
    const slice = Math.floor(this.clock() / this.sliceMs);
    const i = slice % this.calls.length;
    if (this.sliceOf[i] !== slice) {
      this.sliceOf[i] = slice;
      this.calls[i] = 0;
      this.failures[i] = 0;
      this.slow[i] = 0;
    }
    return i;
  }

  private trip(): void {
    this.stateValue = 'open';
    this.openedAt = this.clock();
    this.probeGrants = [];
    this.probeSuccesses = 0;
  }

  private toHalfOpen(): void {
    this.stateValue = 'half-open';
    this.probeGrants = [];
    this.probeSuccesses = 0;
  }

  private close(): void {
    this.stateValue = 'closed';
    this.probeGrants = [];
    this.probeSuccesses = 0;
    this.sliceOf.fill(-1);
  }
}

/**
 * One breaker per service, as the router's {@link ServiceHealth}. `admit` hands out permits;
 * the router gives each back through {@link ServiceBreakers.record}.
 */
export class ServiceBreakers implements ServiceHealth {
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly pending = new Map<string, Permit>();

  constructor(
    private readonly options: CircuitBreakerOptions,
    private readonly clock: Clock,
  ) {}

  /** The breaker of a service (created on first use). */
  of(service: string): CircuitBreaker {
    let b = this.breakers.get(service);
    if (!b) {
      b = new CircuitBreaker(this.options, this.clock);
      this.breakers.set(service, b);
    }
    return b;
  }

  admit(service: string): boolean {
    const permit = this.of(service).acquire();
    if (permit === 'rejected') return false;
    // The router records exactly one outcome per admitted call; keep the permit kind for it.
    this.pending.set(service, permit);
    return true;
  }

  isHealthy(service: string): boolean {
    return this.of(service).state === 'closed';
  }

  /**
   * Takes the permit `admit` just granted (call this right after `decide`, before any await),
   * so that concurrent requests each record under their own permit.
   */
  takePermit(service: string): Permit {
    const p = this.pending.get(service) ?? 'call';
    this.pending.delete(service);
    return p;
  }

  record(service: string, permit: Permit, outcome: CallOutcome): void {
    this.of(service).record(permit, outcome);
  }
}
