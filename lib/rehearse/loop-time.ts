/**
 * Time as the rehearsal's one event loop lived it. Every function, both upstream stand-ins, the
 * traffic generators and the gateway share one Node process on a machine other work loads too:
 * when the process gets no CPU for seconds (measured: dozens of the gateway's upstream calls
 * "timing out" in the same millisecond after 3.1-3.9 s, to the Magento stand-in as often as to
 * the service one, in fault-free runs at load average 20-24), every timer fires late at once,
 * before the answers already waiting on the sockets are read. That stall is the rehearsal's, not
 * the system's: on AWS the gateway, the service and Magento each have their own CPU.
 *
 * {@link LoopClock} counts the loop's time in ticks of {@link TICK_MS}, crediting at most
 * {@link MAX_TICK_CREDIT_MS} per tick: a gap longer than that is a stall and is counted apart.
 * {@link LoopTimedUpstream} gives the gateway's upstream calls their deadline on that clock, so a
 * stalled loop is not reported as an upstream timeout (a 5xx to the gates), while a service that
 * does not answer while the loop runs still times out as it would on AWS.
 */
import { performance } from 'node:perf_hooks';
import {
  type Upstream,
  UpstreamError,
  type UpstreamRequest,
  type UpstreamResponse,
} from '../../lambdas/domain/gateway-router.js';

/** How often the clock ticks (ms). */
export const TICK_MS = 10;
/** The most one tick counts (ms): a longer gap between two ticks is a stall of the loop. */
export const MAX_TICK_CREDIT_MS = 100;
/**
 * How much longer than its deadline the wrapped HTTP call may take on the wall clock: it only
 * ends calls that the loop-time deadline somehow did not (the loop stalled for this long).
 */
const WALL_ALLOWANCE_MS = 60_000;

/** Time the event loop ran, stalls left out. */
export class LoopClock {
  private ranMs = 0;
  private last = performance.now();
  /** Time lost to stalls (gaps between ticks beyond {@link MAX_TICK_CREDIT_MS}). */
  stalledMs = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly wallNow: () => number = () => performance.now()) {
    this.last = wallNow();
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  /** Counts the time since the last tick (also called by the timer). */
  tick(): void {
    const now = this.wallNow();
    const gap = now - this.last;
    this.last = now;
    this.ranMs += Math.min(gap, MAX_TICK_CREDIT_MS);
    this.stalledMs += Math.max(0, gap - MAX_TICK_CREDIT_MS);
  }

  /** The loop's time now (ms, from an arbitrary origin). */
  now(): number {
    return this.ranMs + Math.min(this.wallNow() - this.last, MAX_TICK_CREDIT_MS);
  }

  close(): void {
    clearInterval(this.timer);
  }
}

/**
 * The gateway's upstream with its deadline on a {@link LoopClock}. Calls that took longer than
 * their deadline on the wall clock but not on the loop's are counted in `starved`: answered in
 * time by the stand-in, late only because the loop could not read them.
 */
export class LoopTimedUpstream implements Upstream {
  /** Calls answered past their deadline on the wall clock only (the loop stalled). */
  starved = 0;

  constructor(
    private readonly inner: Upstream,
    private readonly clock: LoopClock,
    private readonly wallNow: () => number = () => performance.now(),
  ) {}

  send(req: UpstreamRequest, opts: { readonly timeoutMs: number }): Promise<UpstreamResponse> {
    const started = this.clock.now();
    const wallStarted = this.wallNow();
    return new Promise<UpstreamResponse>((resolve, reject) => {
      let settled = false;
      let watch: NodeJS.Timeout | undefined;
      const settle = () => {
        settled = true;
        clearTimeout(watch);
      };
      // Re-armed for what is left on the loop's clock: after a stall the loop's time has moved
      // by one tick's credit at most, so the answer read in the turn after the stall is in time.
      const check = () => {
        this.clock.tick();
        const left = opts.timeoutMs - (this.clock.now() - started);
        if (left > 0) {
          watch = setTimeout(check, Math.max(TICK_MS, left));
          return;
        }
        settle();
        reject(new UpstreamError('timeout', 'no complete answer before the deadline'));
      };
      watch = setTimeout(check, opts.timeoutMs);
      this.inner.send(req, { timeoutMs: opts.timeoutMs + WALL_ALLOWANCE_MS }).then(
        (res) => {
          if (settled) return;
          settle();
          if (this.wallNow() - wallStarted >= opts.timeoutMs) this.starved++;
          resolve(res);
        },
        (e: unknown) => {
          if (settled) return;
          settle();
          reject(e);
        },
      );
    });
  }
}
