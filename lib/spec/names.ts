/**
 * Physical names shared by the stacks (which create the resources) and the Lambdas (which
 * recognise them, e.g. the rollback Lambda reading an alarm name). Names are deterministic so
 * that the platform stack can watch resources of the service stacks without a CloudFormation
 * reference (which would make the stacks depend on each other both ways).
 */
import type { MigrationSpec, ServiceSpec } from './schema.js';

/** `cutover-<stage>-<migration>`: the prefix of every physical name of a migration. */
export function migrationPrefix(stage: string, migration: string): string {
  return `cutover-${stage}-${migration}`;
}

/** Name of the platform bus of a stage (shared by every migration). */
export function busName(stage: string): string {
  return `cutover-${stage}`;
}

/**
 * Prefix of the alarms that roll a service back: one composite alarm per service, the AppConfig
 * environment monitor during a deployment and the alarm-rollback rule's trigger after it.
 */
export function rollbackAlarmPrefix(stage: string, migration: string): string {
  return `${migrationPrefix(stage, migration)}-rollback-`;
}

/** `cutover-<stage>-<migration>-rollback-<service>`: the composite alarm of a service. */
export function rollbackAlarmName(stage: string, migration: string, service: string): string {
  return `${rollbackAlarmPrefix(stage, migration)}${service}`;
}

/** The alarms a service's rollback alarm combines: `...-monitor-<service>-<kind>`. */
export function monitorAlarmName(stage: string, migration: string, service: string, kind: string): string {
  return `${migrationPrefix(stage, migration)}-monitor-${service}-${kind}`;
}

/** Operational alarms (no rollback): `<prefix>-<service>-<what>`. */
export function opsAlarmName(stage: string, migration: string, scope: string, kind: string): string {
  return `${migrationPrefix(stage, migration)}-${scope}-${kind}`;
}

/**
 * The queues of a service's sync: the forward and reverse channel, the DLQ base of each capture
 * pipe (per entity), and `targets` (the DLQ of the service stack's scheduled rule targets).
 */
export function serviceQueueNames(
  stage: string,
  spec: MigrationSpec,
  service: ServiceSpec,
): {
  forward: string;
  reverse: string;
  capture: Record<string, string>;
  targets: string;
} {
  const p = `${migrationPrefix(stage, spec.name)}-${service.name}`;
  return {
    forward: `${p}-forward`,
    reverse: `${p}-reverse`,
    capture: Object.fromEntries(
      service.entities.map((e) => [e.name, `${p}-capture-${e.name.replace(/_/g, '-')}`]),
    ),
    targets: `${p}-targets`,
  };
}

/** A queue's dead-letter queue. */
export function dlqName(queueName: string): string {
  return `${queueName}-dlq`;
}

/**
 * Every DLQ that holds a service's failed sync messages (the `dlq-depth` monitor sums them):
 * the channels' DLQs, the capture pipes' and `targets` (delivery failures of the stack's rules).
 */
export function serviceDlqNames(stage: string, spec: MigrationSpec, service: ServiceSpec): string[] {
  const q = serviceQueueNames(stage, spec, service);
  return [q.forward, q.reverse, ...Object.values(q.capture), q.targets].map(dlqName);
}

/**
 * The two places full validation runs: its chain's state id prefix (the Distributed Maps are
 * labelled `<id>Scan` and `<id>Compare`, and AWS puts the label in each Map Run's ARN) and the
 * run label (run `<label>/<execution name>`, report `reports/<label>-<execution name>.json`).
 * `cutover status` finds a run's maps and report by these.
 */
export const VALIDATION_CHAINS = {
  /** The rollout's phase 1. */
  rollout: { id: 'Validate', label: 'rollout' },
  /** The scheduled reconciliation state machine. */
  reconcile: { id: 'Reconcile', label: 'reconcile' },
} as const;
