/**
 * Rollback after a deployment (DESIGN.md, "Flags"): AppConfig watches its monitors only while a
 * deployment runs and bakes, so an alarm that fires later is answered here. The decision is pure
 * ({@link decideRollback}); {@link rollBackService} carries it out through the
 * {@link FlagDeploymentPort} and an {@link EventPublisher}.
 *
 * The last safe state of a service is the flag state that was in effect before the newest
 * deployment that changed its flags (rollback deployments excluded). Only that service's flags
 * change; every other service keeps its current flags. The decision is idempotent: a second
 * alarm for the same change finds the service already at its safe state and does nothing.
 */
import {
  type FeatureFlagsDocument,
  type FlagDeployment,
  type FlagDeploymentPort,
  IN_PROGRESS_STATES,
  INITIAL_SERVICE_FLAGS,
  type ServiceFlags,
  sameEffectiveFlags,
  serviceFlagsOf,
  withServiceFlags,
} from './flags.js';
import type { EventPublisher } from './ports.js';

/** EventBridge source and detail type of the rollback announcement on the platform bus. */
export const ROLLBACK_EVENT = { source: 'cutover.rollback', detailType: 'cutover.rollback' } as const;

/** A rollback input that cannot be acted on. */
export class RollbackError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RollbackError';
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
      /** A deployment in progress to stop first. */
      readonly stop?: string;
    }
  | {
      readonly action: 'none';
      readonly reason: string;
      readonly safe: ServiceFlags;
      readonly stop?: string;
    };

/**
 * Decides what to deploy for `service`.
 *
 * @param history the environment's deployments, newest first, each with the service's flags
 *   in the version it deployed. History beyond the newest change of the service is not needed;
 *   without any, the safe state is {@link INITIAL_SERVICE_FLAGS} (0 % / legacy).
 * @param active the deployment in progress, if any: AppConfig runs one deployment per
 *   environment at a time, so it is stopped (AppConfig then rolls it back) before the rollback.
 */
export function decideRollback(
  history: readonly DeploymentRecord[],
  active?: FlagDeployment,
): RollbackDecision {
  const stop = active && IN_PROGRESS_STATES.has(active.state) ? active.id : undefined;
  const completeAfter = (i: number) => history.slice(i + 1).find((r) => r.deployment.state === 'COMPLETE');
  // In effect now: the newest completed deployment (the active one is being stopped).
  const current = history.find((r) => r.deployment.state === 'COMPLETE')?.flags ?? INITIAL_SERVICE_FLAGS;
  let suspectIndex = -1;
  for (let i = 0; i < history.length; i++) {
    const r = history[i]!;
    if (r.deployment.strategy === 'rollback') continue;
    const before = completeAfter(i)?.flags ?? INITIAL_SERVICE_FLAGS;
    if (!sameEffectiveFlags(r.flags, before)) {
      suspectIndex = i;
      break;
    }
  }
  const safe =
    suspectIndex >= 0 ? (completeAfter(suspectIndex)?.flags ?? INITIAL_SERVICE_FLAGS) : INITIAL_SERVICE_FLAGS;
  if (sameEffectiveFlags(current, safe)) {
    return {
      action: 'none',
      reason: 'the service is already at its last safe flags',
      safe,
      ...(stop ? { stop } : {}),
    };
  }
  return {
    action: 'deploy',
    safe,
    current,
    ...(suspectIndex >= 0 ? { suspect: history[suspectIndex]!.deployment.id } : {}),
    ...(stop ? { stop } : {}),
  };
}

export interface RollbackDeps {
  readonly port: FlagDeploymentPort;
  readonly publisher: EventPublisher;
  /** @default Date.now */
  readonly now?: () => number;
  /** @default setTimeout-based */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Deployments read from history. @default 20 */
  readonly historyLimit?: number;
  /** How long to wait for the rollback deployment to complete. @default 30 s */
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
  /** The rollback deployment's final state seen (COMPLETE unless it was still running). */
  readonly state?: FlagDeployment['state'];
  /** From the alarm's transition to ALARM to the deployment seen complete (or to now). */
  readonly durationSeconds: number;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Waits until a deployment leaves the in-progress states, or the time is up. */
export async function waitForDeployment(
  port: FlagDeploymentPort,
  id: string,
  opts: { waitMs: number; pollMs: number; now: () => number; sleep: (ms: number) => Promise<void> },
): Promise<FlagDeployment> {
  const until = opts.now() + opts.waitMs;
  for (;;) {
    const d = await port.getDeployment(id);
    if (!IN_PROGRESS_STATES.has(d.state) || opts.now() >= until) return d;
    await opts.sleep(opts.pollMs);
  }
}

/**
 * Rolls one service back: stops a deployment in progress, deploys the service's last safe
 * flags (only its two flags change) with the `rollback` strategy, waits for it, and announces
 * `cutover.rollback` on the bus. Safe to run twice for the same alarm.
 */
export async function rollBackService(
  service: string,
  alarm: AlarmStateChange,
  deps: RollbackDeps,
): Promise<RollbackResult> {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? defaultSleep;
  const { port } = deps;
  const [deployments, active] = await Promise.all([
    port.listDeployments(deps.historyLimit ?? 20),
    port.activeDeployment(),
  ]);
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
  for (const deployment of deployments) {
    const doc = await documentOf(deployment.version);
    history.push({ deployment, flags: serviceFlagsOf(doc, service) });
  }
  const decision = decideRollback(history, active);
  if (decision.stop) {
    try {
      await port.stopDeployment(decision.stop);
    } catch (cause) {
      // It may have finished or been rolled back by its monitor in the meantime.
      const d = await port.getDeployment(decision.stop);
      if (IN_PROGRESS_STATES.has(d.state))
        throw new RollbackError(`could not stop deployment ${decision.stop}`, { cause });
    }
    await waitForDeployment(port, decision.stop, {
      waitMs: deps.waitMs ?? 30_000,
      pollMs: deps.pollMs ?? 1000,
      now,
      sleep,
    });
  }
  const seconds = () => Math.max(0, (now() - Date.parse(alarm.changedAt)) / 1000);
  if (decision.action === 'none') {
    await announce(deps.publisher, service, alarm, decision.action, decision.safe, decision.stop);
    return {
      service,
      action: 'none',
      safe: decision.safe,
      ...(decision.stop ? { stopped: decision.stop } : {}),
      durationSeconds: seconds(),
    };
  }
  // Base on what is in effect now so other services keep their current flags.
  const base = history.find((r) => r.deployment.state === 'COMPLETE');
  const doc = base ? await documentOf(base.deployment.version) : (await port.latestVersion()).document;
  const version = await port.createVersion(
    withServiceFlags(doc, service, decision.safe),
    `rollback ${service}: ${alarm.alarmName}`,
  );
  const deploymentId = await port.startDeployment(
    version,
    'rollback',
    `rollback ${service} (${alarm.alarmName})`,
  );
  const final = await waitForDeployment(port, deploymentId, {
    waitMs: deps.waitMs ?? 30_000,
    pollMs: deps.pollMs ?? 1000,
    now,
    sleep,
  });
  await announce(deps.publisher, service, alarm, 'deploy', decision.safe, decision.stop, deploymentId);
  return {
    service,
    action: 'deploy',
    safe: decision.safe,
    ...(decision.stop ? { stopped: decision.stop } : {}),
    deploymentId,
    version,
    state: final.state,
    durationSeconds: seconds(),
  };
}

async function announce(
  publisher: EventPublisher,
  service: string,
  alarm: AlarmStateChange,
  action: 'deploy' | 'none',
  safe: ServiceFlags,
  stopped?: string,
  deploymentId?: string,
): Promise<void> {
  await publisher.publish([
    {
      Source: ROLLBACK_EVENT.source,
      DetailType: ROLLBACK_EVENT.detailType,
      Detail: JSON.stringify({
        service,
        alarmName: alarm.alarmName,
        alarmAt: alarm.changedAt,
        action,
        flags: safe,
        ...(stopped ? { stoppedDeployment: stopped } : {}),
        ...(deploymentId ? { deploymentId } : {}),
      }),
    },
  ]);
}
