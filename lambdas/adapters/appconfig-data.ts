/**
 * The gateway's flag reader: AppConfig Data (`StartConfigurationSession` +
 * `GetLatestConfiguration`) behind the router's {@link FlagSource} port.
 *
 * Why not the AppConfig Lambda extension: it polls every 45 s by default, and the seed's rollback
 * goal is 10 s. Why several sessions: AppConfig refuses a session's next poll before its
 * `NextPollIntervalInSeconds` ("Request too early"; sessions allow 15 s at the least), so one
 * session cannot be polled every 5 s. This reader keeps a small pool of sessions and polls
 * whichever is due, opening another while none is (at most `maxSessions`, ⌈15 / interval⌉ + 1
 * by default: 4 sessions for a 5 s interval). Each session's token is used exactly once.
 *
 * A session answers with content only when the deployed configuration differs from what *that
 * session* last received; an empty answer means "still what you last got", so the reader keeps
 * each session's last content and adopts it on an empty answer (a rollback to an older version
 * is seen on the next poll of any session, not only of the one that saw it last).
 *
 * Failures never throw into the request path: the last good flags stay in force, the snapshot
 * says `stale: true` with the error, and the next attempt comes after the poll interval. Before
 * the first successful answer every service is on legacy.
 */
import {
  type AppConfigDataClient,
  GetLatestConfigurationCommand,
  StartConfigurationSessionCommand,
} from '@aws-sdk/client-appconfigdata';
import type { Clock } from '../domain/circuit-breaker.js';
import type { FlagSnapshot, FlagSource } from '../domain/gateway-router.js';
import { type RoutingFlags, routingFlagsFromAppConfig } from '../domain/routing.js';
import { systemSleep } from './system-clock.js';

export interface AppConfigFlagSourceOptions {
  readonly client: AppConfigDataClient;
  readonly applicationId: string;
  readonly environmentId: string;
  readonly profileId: string;
  /** The services whose flags to read (from the spec). */
  readonly services: readonly string[];
  /** How often to look for new flags (s). The spec caps it at 5. */
  readonly pollIntervalSeconds: number;
  /** The longest a refresh holds up a request (ms); a slower poll completes in the background. @default 1_000 */
  readonly refreshTimeoutMs?: number;
  /** Deadline of each AppConfig call (ms). @default 2_000 */
  readonly callTimeoutMs?: number;
  /** Minimum poll interval asked of each session (s); AppConfig's floor is 15. @default 15 */
  readonly sessionPollSeconds?: number;
  /** Sessions kept open at most. @default ⌈sessionPollSeconds / pollIntervalSeconds⌉ + 1 */
  readonly maxSessions?: number;
  readonly clock?: Clock;
  /** Called with each failed poll (for the log). */
  readonly onError?: (error: unknown) => void;
}

interface Session {
  token: string;
  nextPollAt: number;
  /** What this session last received (adopted when it answers "unchanged"). */
  seen?: { flags: RoutingFlags; version?: string };
}

/** Flags from AppConfig Data, polled every `pollIntervalSeconds`, last good kept on failure. */
export class AppConfigFlagSource implements FlagSource {
  private readonly o: AppConfigFlagSourceOptions;
  private readonly clock: Clock;
  private readonly sessions: Session[] = [];
  private current: FlagSnapshot = { flags: {}, stale: false };
  private lastAttemptAt = Number.NEGATIVE_INFINITY;
  private inflight: Promise<void> | undefined;
  /** Calls made to AppConfig, by operation (for tests and logs). */
  readonly calls = { startSession: 0, getLatest: 0 };

  constructor(options: AppConfigFlagSourceOptions) {
    if (!(options.pollIntervalSeconds > 0)) throw new RangeError('pollIntervalSeconds must be > 0');
    this.o = options;
    this.clock = options.clock ?? Date.now;
  }

  snapshot(): FlagSnapshot {
    return this.current;
  }

  async refresh(): Promise<void> {
    // Not due: never wait, not even for a poll still running in the background.
    if (this.clock() - this.lastAttemptAt < this.o.pollIntervalSeconds * 1000) return;
    if (!this.inflight) {
      this.lastAttemptAt = this.clock();
      this.inflight = this.poll().finally(() => {
        this.inflight = undefined;
      });
    }
    // The wait's timer is cleared as soon as the poll settles (abort), not left to run out.
    const done = new AbortController();
    try {
      await Promise.race([this.inflight, systemSleep(this.o.refreshTimeoutMs ?? 1_000, done.signal)]);
    } finally {
      done.abort();
    }
  }

  private get maxSessions(): number {
    return (
      this.o.maxSessions ?? Math.ceil((this.o.sessionPollSeconds ?? 15) / this.o.pollIntervalSeconds) + 1
    );
  }

  private async poll(): Promise<void> {
    const now = this.clock();
    let session: Session | undefined;
    const ready = this.sessions.findIndex((s) => s.nextPollAt <= now);
    try {
      if (ready >= 0) {
        session = this.sessions.splice(ready, 1)[0]!;
      } else if (this.sessions.length < this.maxSessions) {
        session = await this.startSession();
      } else {
        return; // every session is waiting out its interval; the flags are at most one interval old
      }
      this.calls.getLatest++;
      const out = await this.o.client.send(
        new GetLatestConfigurationCommand({ ConfigurationToken: session.token }),
        {
          abortSignal: AbortSignal.timeout(this.o.callTimeoutMs ?? 2_000),
        },
      );
      const answeredAt = this.clock();
      const content = out.Configuration;
      if (content && content.byteLength > 0) {
        const payload: unknown = JSON.parse(new TextDecoder().decode(content));
        session.seen = {
          flags: routingFlagsFromAppConfig(payload, this.o.services),
          version: out.VersionLabel,
        };
      }
      if (!out.NextPollConfigurationToken) throw new Error('AppConfig returned no next poll token');
      session.token = out.NextPollConfigurationToken;
      session.nextPollAt = answeredAt + (out.NextPollIntervalInSeconds ?? 15) * 1000;
      if (!session.seen) throw new Error('AppConfig returned no configuration on a new session');
      this.sessions.push(session);
      this.current = {
        flags: session.seen.flags,
        version: session.seen.version,
        fetchedAt: answeredAt,
        stale: false,
      };
    } catch (error) {
      // The session's token may be spent or expired: drop it, a fresh one replaces it.
      this.current = { ...this.current, stale: true, lastError: describe(error) };
      this.o.onError?.(error);
    }
  }

  private async startSession(): Promise<Session> {
    this.calls.startSession++;
    const out = await this.o.client.send(
      new StartConfigurationSessionCommand({
        ApplicationIdentifier: this.o.applicationId,
        EnvironmentIdentifier: this.o.environmentId,
        ConfigurationProfileIdentifier: this.o.profileId,
        RequiredMinimumPollIntervalInSeconds: this.o.sessionPollSeconds ?? 15,
      }),
      { abortSignal: AbortSignal.timeout(this.o.callTimeoutMs ?? 2_000) },
    );
    if (!out.InitialConfigurationToken) throw new Error('AppConfig returned no initial token');
    return { token: out.InitialConfigurationToken, nextPollAt: 0 };
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
