/**
 * The one retry delay: exponential backoff with full jitter (a random delay between 0 and
 * `baseMs · 2^attempt`, capped), so that callers retrying the same throttled resource spread out.
 * Every retry loop in the functions has a bound of its own (a maximum number of attempts) and
 * waits with this between attempts.
 * The waiting itself is the caller's (`backoff` of lambdas/adapters/system-clock.ts, or a use
 * case's `sleep`).
 */
import type { Random } from './ports.js';

export interface BackoffOptions {
  /** The cap of the first retry's delay (attempt 0). */
  readonly baseMs: number;
  /** No delay is longer than this. @default 20_000 */
  readonly maxMs?: number;
}

/** The delay before retry number `attempt` (0-based): uniform in [0, min(maxMs, baseMs · 2^attempt)). */
export function backoffMs(attempt: number, options: BackoffOptions, random: Random): number {
  return random() * Math.min(options.maxMs ?? 20_000, options.baseMs * 2 ** attempt);
}
