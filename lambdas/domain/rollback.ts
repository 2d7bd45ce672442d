/**
 * Rollback (DESIGN.md, "Flags"). Two callers, one engine:
 *
 * - after a deployment, AppConfig no longer watches its monitors, so an alarm that fires later
 *   is answered by {@link rollBackService}: it finds the service's last safe flags in the
 *   environment's whole deployment history ({@link decideRollback}, pure) and restores them;
 * - a failed rollout step restores the flags of its last passed gate (rollout-tasks.ts).
 *
 * Both restore through {@link restoreServiceFlags}: stop a deployment in progress, wait until
 * AppConfig has rolled it back (it runs one deployment per environment at a time), deploy the
 * flags with the zero-bake `rollback` strategy, wait until that deployment is COMPLETE.
 *
 * The last safe state of a service is the flag state that was in effect before the newest
 * deployment that changed its flags (rollback deployments excluded), however old. Only that
 * service's flags change; every other service keeps its current flags. The decision is
 * idempotent: a second alarm for the same change finds the service already at its safe state.
 * When the history cannot tell the safe state (a deployment's version was deleted, or the
 * history does not reach back to the change), nothing is guessed: the flags stay, and
 * `cutover.rollback.refused` is published with the reason.
 */
import {
  deployedDocument,
  type FeatureFlagsDocument,
  type FlagDeployment,
  type FlagDeploymentPort,
  IN_PROGRESS_STATES,
  INITIAL_SERVICE_FLAGS,
  type ServiceFlags,
  sameEffectiveFlags,
  sameFlags,
  serviceFlagsOf,
  withServiceFlags,
} from './flags.js';
import type { Clock, EventPublisher, Sleep } from './ports.js';

/** EventBridge source and detail type of the rollback announcement on the platform bus. */
export const ROLLBACK_EVENT = { source: 'cutover.rollback', detailType: 'cutover.rollback' } as const;

/** EventBridge source and detail type of a rollback that did not happen because its target is unknown. */
export const ROLLBACK_REFUSED_EVENT = {
  source: 'cutover.rollback',
  detailType: 'cutover.rollback.refused',
} as const;

/** A rollback input that cannot be acted on, or a rollback that could not be carried out. */
export class RollbackError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RollbackError';
  }
}

/** The service's last safe flags cannot be determined: nothing was changed. */
export class RollbackRefusedError extends RollbackError {
  readonly reason: string;
  constructor(service: string, reason: string, options?: { cause?: unknown }) {
    super(`rollback of "${service}" refused, the flags were left as they are: ${reason}`, options);
    this.name = 'RollbackRefusedError';
    this.reason = reason;
  }
}

/** The parts of a `CloudWatch Alarm State Change` event the rollback uses. */
export interface AlarmStateChange {
  readonly alarmName: string;
  readonly state: string;
  /** When the alarm entered the state (ISO-8601). */
  readonly changedAt: string;
  readonly reason?: string;
}

/**
 * Reads an EventBridge `CloudWatch Alarm State Change` event.
 * @throws RollbackError when it is not one
 */
export function parseAlarmEvent(event: unknown): AlarmStateChange {
  const e = event as {
    'detail-type'?: unknown;
    time?: unknown;
    detail?: { alarmName?: unknown; state?: { value?: unknown; timestamp?: unknown; reason?: unknown } };
  } | null;
  if (e?.['detail-type'] !== 'CloudWatch Alarm State Change') {
    throw new RollbackError('not a CloudWatch Alarm State Change event');
  }
  const name = e.detail?.alarmName;
  const state = e.detail?.state?.value;
  if (typeof name !== 'string' || !name) throw new RollbackError('detail.alarmName is missing');
  if (typeof state !== 'string') throw new RollbackError('detail.state.value is missing');
  const raw = e.detail?.state?.timestamp ?? e.time;
  const at = typeof raw === 'string' ? Date.parse(raw) : Number.NaN;
  if (Number.isNaN(at)) throw new RollbackError('detail.state.timestamp is not a date');
  return {
    alarmName: name,
    state,
    changedAt: new Date(at).toISOString(),
    ...(typeof e.detail?.state?.reason === 'string' ? { reason: e.detail.state.reason } : {}),
  };
}

/**
 * The service an alarm belongs to: alarm names are `<prefix><service>`
 * (`cutover-<stage>-<migration>-rollback-<service>`, lib/spec/names.ts). Exact match only, so
 * a service named `order` never claims `order_items`' alarm.
 */
export function serviceOfAlarm(
  alarmName: string,
  prefix: string,
  services: readonly string[],
): string | undefined {
  if (!alarmName.startsWith(prefix)) return undefined;
  const rest = alarmName.slice(prefix.length);
  return services.find((s) => s === rest);
}

/** One deployment of the environment with the service's flags in the deployed version. */
export interface DeploymentRecord {
  readonly deployment: FlagDeployment;
  readonly flags: ServiceFlags;
}

export type RollbackDecision =
  | {
      readonly action: 'deploy';
      /** The flags to deploy for the service. */
      readonly safe: ServiceFlags;
      /** The flags in effect now. */
      readonly current: ServiceFlags;
      /** The deployment whose change is undone. */
      readonly suspect?: string;
    }
  | {
      readonly action: 'none';
      readonly reason: string;
      readonly safe: ServiceFlags;
    }
  | {
      /** The history read does not tell the safe flags (read more, or refuse). */
      readonly action: 'undetermined';
      readonly reason: string;
    };

/**
 * Decides what to deploy for `service`.
 *
 * @param history the environment's deployments, newest first, each with the service's flags
 *   in the version it deployed; it may be the first part of the history only.
 * @param options.complete whether `history` reaches the environment's first deployment. Only
 *   then is "nothing before" the initial state (0 % / legacy); otherwise a decision that needs
 *   an older deployment is `undetermined`.
 */
export function decideRollback(
  history: readonly DeploymentRecord[],
  options: { readonly complete: boolean },
): RollbackDecision {
  const completeAfter = (i: number) => history.slice(i + 1).find((r) => r.deployment.state === 'COMPLETE');
  const newest = history.find((r) => r.deployment.state === 'COMPLETE');
  if (!newest && !options.complete) {
    return { action: 'undetermined', reason: 'no completed deployment in the history read' };
  }
  // In effect now: the newest completed deployment (one in progress is stopped first).
  const current = newest?.flags ?? INITIAL_SERVICE_FLAGS;
  for (let i = 0; i < history.length; i++) {
    const r = history[i]!;
    if (r.deployment.strategy === 'rollback') continue;
    const previous = completeAfter(i);
    if (!previous && !options.complete) {
      return {
        action: 'undetermined',
        reason: `the flags in effect before deployment ${r.deployment.id} are not in the deployment history`,
      };
    }
    const before = previous?.flags ?? INITIAL_SERVICE_FLAGS;
    if (sameEffectiveFlags(r.flags, before)) continue;
    if (sameEffectiveFlags(current, before)) {
      return { action: 'none', reason: 'the service is already at its last safe flags', safe: before };
    }
    return { action: 'deploy', safe: before, current, suspect: r.deployment.id };
  }
  if (!options.complete) {
    return {
      action: 'undetermined',
      reason:
        'no change of the service in the deployment history read, and it does not reach the first deployment',
    };
  }
  return { action: 'none', reason: "the service's flags never changed", safe: current };
}

// --- The engine both rollbacks use --------------------------------------------------------------

export interface RestoreDeps {
  readonly port: FlagDeploymentPort;
  readonly now: Clock;
  readonly sleep: Sleep;
  /** Poll interval while waiting for a deployment. @default 1 s */
  readonly pollMs?: number;
  /** Longest wait for the stopped deployment to settle and the rollback to complete, together. @default 60 s */
  readonly waitMs?: number;
}

export interface RestoreResult {
  /** The service's flags in effect before (after a stopped deployment settled). */
  readonly previous: ServiceFlags;
  /** The deployment that was in progress and stopped, with the state it settled in. */
  readonly stopped?: { readonly id: string; readonly state: FlagDeployment['state'] };
  /** The rollback deployment (COMPLETE); absent when the flags already were the target. */
  readonly deploymentId?: string;
  readonly version?: number;
}

/**
 * Restores one service's flags: stops a deployment in progress (whichever service it belongs
 * to), waits until AppConfig has rolled it back, then, unless the deployed flags already are
 * `target`, creates a version equal to the deployed document with only this service's two flags
 * replaced, deploys it with the zero-bake `rollback` strategy and waits until it is COMPLETE.
 * @throws RollbackError when a deployment cannot be stopped, does not settle in time, or the
 *   rollback deployment does not complete
 */
export async function restoreServiceFlags(
  service: string,
  target: ServiceFlags,
  description: string,
  deps: RestoreDeps,
): Promise<RestoreResult> {
  const { port } = deps;
  const wait = {
    until: deps.now() + (deps.waitMs ?? 60_000),
    pollMs: deps.pollMs ?? 1000,
    now: deps.now,
    sleep: deps.sleep,
  };
  let stopped: RestoreResult['stopped'];
  const active = await port.activeDeployment();
  if (active) {
    try {
      await port.stopDeployment(active.id);
    } catch (cause) {
      // It may have completed or been rolled back by its monitor meanwhile, or be rolling back.
      const d = await port.getDeployment(active.id);
      if (IN_PROGRESS_STATES.has(d.state) && d.state !== 'ROLLING_BACK') {
        throw new RollbackError(`could not stop deployment ${active.id} (${d.state})`, { cause });
      }
    }
    // AppConfig starts no deployment while the stopped one is still rolling back.
    const settled = await waitForDeployment(port, active.id, wait);
    if (IN_PROGRESS_STATES.has(settled.state)) {
      throw new RollbackError(`stopped deployment ${active.id} is still ${settled.state}`);
    }
    stopped = { id: active.id, state: settled.state };
  }
  // Based on what is in effect now, so every other service keeps its current flags.
  const { document } = await deployedDocument(port);
  const previous = serviceFlagsOf(document, service);
  if (sameFlags(previous, target)) return { previous, ...(stopped ? { stopped } : {}) };
  const version = await port.createVersion(withServiceFlags(document, service, target), description);
  const deploymentId = await port.startDeployment(version, 'rollback', description);
  const final = await waitForDeployment(port, deploymentId, wait);
  if (final.state !== 'COMPLETE') {
    const how = IN_PROGRESS_STATES.has(final.state) ? 'is still' : 'ended';
    throw new RollbackError(`rollback deployment ${deploymentId} ${how} ${final.state}`);
  }
  return { previous, ...(stopped ? { stopped } : {}), deploymentId, version };
}

/** Polls a deployment until it leaves the in-progress states or `until` (epoch ms) is reached. */
export async function waitForDeployment(
  port: FlagDeploymentPort,
  id: string,
  opts: { until: number; pollMs: number; now: () => number; sleep: (ms: number) => Promise<void> },
): Promise<FlagDeployment> {
  for (;;) {
    const d = await port.getDeployment(id);
    if (!IN_PROGRESS_STATES.has(d.state) || opts.now() >= opts.until) return d;
    await opts.sleep(opts.pollMs);
  }
}

// --- Rollback after a deployment (the alarm rule) --------------------------------------------------

export interface RollbackDeps {
  readonly port: FlagDeploymentPort;
  readonly publisher: EventPublisher;
  readonly now: Clock;
  /** The wait between polls of the deployments. */
  readonly sleep: Sleep;
  /** Longest wait for deployments to settle and complete. @default 60 s */
  readonly waitMs?: number;
  /** Poll interval while waiting. @default 1 s */
  readonly pollMs?: number;
}

export interface RollbackResult {
  readonly service: string;
  readonly action: 'deploy' | 'none';
  readonly safe: ServiceFlags;
  readonly stopped?: string;
  readonly deploymentId?: string;
  readonly version?: number;
  /** From the alarm's transition to ALARM to the flags restored (or found safe). */
  readonly durationSeconds: number;
}

/**
 * The service's last safe flags from the environment's deployment history, read newest first
 * and only as far back as the decision needs (page by page, however old the change).
 * @returns the decision; `undetermined` when even the whole history cannot tell
 */
export async function lastSafeFlags(port: FlagDeploymentPort, service: string): Promise<RollbackDecision> {
  const documents = new Map<number, Promise<FeatureFlagsDocument>>();
  const documentOf = (version: number) => {
    let doc = documents.get(version);
    if (!doc) {
      doc = port.getVersion(version);
      documents.set(version, doc);
    }
    return doc;
  };
  const history: DeploymentRecord[] = [];
  for await (const deployment of port.deploymentHistory()) {
    let document: FeatureFlagsDocument;
    try {
      document = await documentOf(deployment.version);
    } catch (cause) {
      if ((cause as { name?: unknown })?.name !== 'ResourceNotFoundException') throw cause;
      return {
        action: 'undetermined',
        reason: `version ${deployment.version} of deployment ${deployment.id} no longer exists, so the flags it deployed are unknown`,
      };
    }
    history.push({ deployment, flags: serviceFlagsOf(document, service) });
    const decision = decideRollback(history, { complete: false });
    if (decision.action !== 'undetermined') return decision;
  }
  // Deployment numbers start at 1 per environment: a listing that ends elsewhere lost its start.
  const oldest = history.at(-1)?.deployment.id;
  return decideRollback(history, { complete: oldest === undefined || oldest === '1' });
}

/**
 * Rolls one service back after an alarm: finds its last safe flags however old, then restores
 * them with {@link restoreServiceFlags} and announces `cutover.rollback` on the bus. When the
 * safe flags cannot be determined, changes nothing, announces `cutover.rollback.refused` with
 * the reason and throws. Safe to run twice for the same alarm.
 * @throws RollbackRefusedError when the last safe flags cannot be determined
 * @throws RollbackError when the restore fails
 */
export async function rollBackService(
  service: string,
  alarm: AlarmStateChange,
  deps: RollbackDeps,
): Promise<RollbackResult> {
  const { now } = deps;
  const decision = await lastSafeFlags(deps.port, service);
  if (decision.action === 'undetermined') {
    await deps.publisher.publish([
      {
        Source: ROLLBACK_REFUSED_EVENT.source,
        DetailType: ROLLBACK_REFUSED_EVENT.detailType,
        Detail: JSON.stringify({
          service,
          alarmName: alarm.alarmName,
          alarmAt: alarm.changedAt,
          reason: decision.reason,
        }),
      },
    ]);
    throw new RollbackRefusedError(service, decision.reason);
  }
  const restored = await restoreServiceFlags(
    service,
    decision.safe,
    `rollback ${service}: ${alarm.alarmName}`.slice(0, 1024),
    {
      port: deps.port,
      now,
      sleep: deps.sleep,
      ...(deps.pollMs !== undefined ? { pollMs: deps.pollMs } : {}),
      ...(deps.waitMs !== undefined ? { waitMs: deps.waitMs } : {}),
    },
  );
  const result: RollbackResult = {
    service,
    action: restored.deploymentId ? 'deploy' : 'none',
    safe: decision.safe,
    ...(restored.stopped ? { stopped: restored.stopped.id } : {}),
    ...(restored.deploymentId ? { deploymentId: restored.deploymentId, version: restored.version } : {}),
    durationSeconds: Math.max(0, (now() - Date.parse(alarm.changedAt)) / 1000),
  };
  await deps.publisher.publish([
    {
      Source: ROLLBACK_EVENT.source,
      DetailType: ROLLBACK_EVENT.detailType,
      Detail: JSON.stringify({
        service,
        alarmName: alarm.alarmName,
        alarmAt: alarm.changedAt,
        action: result.action,
        flags: result.safe,
        ...(result.stopped ? { stoppedDeployment: result.stopped } : {}),
        ...(result.deploymentId ? { deploymentId: result.deploymentId } : {}),
      }),
    },
  ]);
  return result;
}
