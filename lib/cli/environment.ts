/**
 * What the CLI knows of a deployed migration: the stack outputs (lib/spec/outputs.ts) of the
 * platform stack and of each service stack, read through CloudFormation from `--env` and
 * `--migration`. Nothing is configured by hand.
 */
import {
  PLATFORM_OUTPUT,
  platformStackName,
  QUEUE_KINDS,
  QUEUE_OUTPUT_PREFIX,
  type QueueOutput,
  SERVICE_OUTPUT,
  serviceStackName,
} from '../spec/outputs.js';
import type { MigrationSpec, ServiceSpec } from '../spec/schema.js';
import type { StacksPort } from './control-plane.js';
import { CliError, EXIT } from './errors.js';

export interface FlagIds {
  readonly applicationId: string;
  readonly environmentId: string;
  readonly profileId: string;
  readonly gradualStrategyId: string;
  readonly rollbackStrategyId: string;
}

export interface DeployedMigration {
  readonly env: string;
  readonly spec: MigrationSpec;
  readonly busName: string;
  readonly archiveName?: string;
  readonly gatewayUrl: string;
  readonly dashboardUrl: string;
  readonly conflictsTable: string;
  readonly syncStateTable: string;
  /** The key sealing personal fields (a spec with `pii` fields), when deployed. */
  readonly personalDataKeyArn?: string;
  readonly flags: FlagIds;
  /** The platform's queues of this migration (and the bus's target DLQ). */
  readonly platformQueues: readonly QueueOutput[];
}

export interface DeployedService {
  readonly service: ServiceSpec;
  readonly rolloutStateMachineArn: string;
  readonly validationStateMachineArn: string;
  /**
   * Full validation's bucket (its reports under `reports/`); undefined for stacks deployed
   * before the output existed: every command still works, `status` just cannot link the report.
   */
  readonly validationBucket: string | undefined;
  readonly serviceTables: Readonly<Record<string, string>>;
  readonly queues: readonly QueueOutput[];
}

function need(outputs: Readonly<Record<string, string>>, key: string, stack: string): string {
  const v = outputs[key];
  if (!v) {
    throw new CliError(
      `stack ${stack} has no output ${key}: deploy this version of the stacks (cdk deploy) first`,
      EXIT.aws,
    );
  }
  return v;
}

/** The queue outputs of a stack, each checked. */
export function queuesOf(outputs: Readonly<Record<string, string>>, stack: string): QueueOutput[] {
  const out: QueueOutput[] = [];
  for (const [key, value] of Object.entries(outputs)) {
    if (!key.startsWith(QUEUE_OUTPUT_PREFIX)) continue;
    let q: QueueOutput;
    try {
      q = JSON.parse(value) as QueueOutput;
    } catch {
      throw new CliError(`stack ${stack}: output ${key} is not the JSON of a queue`, EXIT.aws);
    }
    if (!q.name || !q.url || !q.arn || !QUEUE_KINDS.includes(q.kind)) {
      throw new CliError(`stack ${stack}: output ${key} lacks name, url, arn or a known kind`, EXIT.aws);
    }
    out.push(q);
  }
  return out;
}

/** The migration's platform outputs. */
export async function deployedMigration(
  stacks: StacksPort,
  env: string,
  spec: MigrationSpec,
): Promise<DeployedMigration> {
  const stack = platformStackName(env);
  const o = await stacks.outputs(stack);
  const m = spec.name;
  return {
    env,
    spec,
    busName: need(o, PLATFORM_OUTPUT.busName, stack),
    ...(o[PLATFORM_OUTPUT.busArchiveName] ? { archiveName: o[PLATFORM_OUTPUT.busArchiveName] } : {}),
    gatewayUrl: need(o, PLATFORM_OUTPUT.gatewayUrl(m), stack),
    dashboardUrl: need(o, PLATFORM_OUTPUT.dashboardUrl(m), stack),
    conflictsTable: need(o, PLATFORM_OUTPUT.conflictsTable(m), stack),
    syncStateTable: need(o, PLATFORM_OUTPUT.syncStateTable(m), stack),
    ...(o[PLATFORM_OUTPUT.personalDataKeyArn(m)]
      ? { personalDataKeyArn: o[PLATFORM_OUTPUT.personalDataKeyArn(m)] }
      : {}),
    flags: {
      applicationId: need(o, PLATFORM_OUTPUT.appConfigApplicationId(m), stack),
      environmentId: need(o, PLATFORM_OUTPUT.appConfigEnvironmentId(m), stack),
      profileId: need(o, PLATFORM_OUTPUT.appConfigProfileId(m), stack),
      gradualStrategyId: need(o, PLATFORM_OUTPUT.gradualStrategyId(m), stack),
      rollbackStrategyId: need(o, PLATFORM_OUTPUT.rollbackStrategyId(m), stack),
    },
    platformQueues: queuesOf(o, stack).filter((q) => !q.migration || q.migration === m),
  };
}

/** One service's stack outputs. */
export async function deployedService(
  stacks: StacksPort,
  env: string,
  spec: MigrationSpec,
  service: ServiceSpec,
): Promise<DeployedService> {
  const stack = serviceStackName(env, spec.name, service.name);
  const o = await stacks.outputs(stack);
  return {
    service,
    rolloutStateMachineArn: need(o, SERVICE_OUTPUT.rolloutStateMachineArn, stack),
    validationStateMachineArn: need(o, SERVICE_OUTPUT.validationStateMachineArn, stack),
    validationBucket: o[SERVICE_OUTPUT.validationBucketName] || undefined,
    serviceTables: Object.fromEntries(
      service.entities.map((e) => [e.name, need(o, SERVICE_OUTPUT.serviceTable(e.name), stack)]),
    ),
    queues: queuesOf(o, stack),
  };
}
