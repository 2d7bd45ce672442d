/**
 * Running `cutover` operator commands in a test: the stack outputs a deployed environment has
 * (written with the stacks' own names, lib/spec/names.ts and outputs.ts) and a runner that
 * captures stdout, stderr and the exit code.
 */
import { Command } from 'commander';
import { reportError } from '../../bin/cutover.js';
import { type CliContext, registerOperatorCommands } from '../../lib/cli/operator-commands.js';
import { rolloutStateMachineName } from '../../lib/constructs/rollout-state-machine.js';
import { dlqName, serviceQueueNames } from '../../lib/spec/names.js';
import {
  PLATFORM_OUTPUT,
  platformStackName,
  type QueueOutput,
  queueOutputKey,
  SERVICE_OUTPUT,
  serviceStackName,
} from '../../lib/spec/outputs.js';
import type { MigrationSpec } from '../../lib/spec/schema.js';
import { FAKE_IDS } from './fake-appconfig.js';

export const ACCOUNT = '123456789012';
export const REGION = 'eu-west-1';

export const rolloutArn = (env: string, migration: string, service: string) =>
  `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${rolloutStateMachineName(env, migration, service)}`;

function queue(env: string, name: string, info: Omit<QueueOutput, 'name' | 'url' | 'arn'>): [string, string] {
  return [
    queueOutputKey(env, name),
    JSON.stringify({
      name,
      url: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${name}`,
      arn: `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}`,
      ...info,
    }),
  ];
}

/** Stack name -> outputs, as the stacks of `env` write them (AppConfig ids of the fake). */
export function deployedOutputs(
  env: string,
  spec: MigrationSpec,
  tables: { conflictsTable?: string; syncTable?: string; serviceTables?: Record<string, string> } = {},
): Record<string, Record<string, string>> {
  const m = spec.name;
  const out: Record<string, Record<string, string>> = {
    [platformStackName(env)]: {
      [PLATFORM_OUTPUT.busName]: `cutover-${env}`,
      [PLATFORM_OUTPUT.gatewayUrl(m)]: `https://abc.execute-api.${REGION}.amazonaws.com/`,
      [PLATFORM_OUTPUT.dashboardUrl(m)]:
        `https://${REGION}.console.aws.amazon.com/cloudwatch/home#dashboards:name=cutover-${env}-${m}`,
      [PLATFORM_OUTPUT.conflictsTable(m)]: tables.conflictsTable ?? 'conflicts',
      [PLATFORM_OUTPUT.syncStateTable(m)]: tables.syncTable ?? 'sync',
      [PLATFORM_OUTPUT.appConfigApplicationId(m)]: FAKE_IDS.application,
      [PLATFORM_OUTPUT.appConfigEnvironmentId(m)]: FAKE_IDS.environment,
      [PLATFORM_OUTPUT.appConfigProfileId(m)]: FAKE_IDS.profile,
      [PLATFORM_OUTPUT.gradualStrategyId(m)]: FAKE_IDS.strategies.gradual,
      [PLATFORM_OUTPUT.rollbackStrategyId(m)]: FAKE_IDS.strategies.rollback,
      ...Object.fromEntries([queue(env, `cutover-${env}-targets-dlq`, { kind: 'rule-target-dlq' })]),
    },
  };
  for (const s of spec.services) {
    const n = serviceQueueNames(env, spec, s);
    const who = { migration: m, service: s.name };
    out[serviceStackName(env, m, s.name)] = {
      [SERVICE_OUTPUT.rolloutStateMachineArn]: rolloutArn(env, m, s.name),
      [SERVICE_OUTPUT.validationStateMachineArn]: `${rolloutArn(env, m, s.name)}-validation`,
      [SERVICE_OUTPUT.validationBucketName]: `cutover-${env}-${m}-${s.name}-validation`,
      ...Object.fromEntries(
        s.entities.map((e) => [
          SERVICE_OUTPUT.serviceTable(e.name),
          tables.serviceTables?.[e.name] ?? `${e.name}-table`,
        ]),
      ),
      ...Object.fromEntries([
        queue(env, n.forward, { kind: 'sync', ...who }),
        queue(env, dlqName(n.forward), { kind: 'source-dlq', source: n.forward, ...who }),
        queue(env, dlqName(n.targets), { kind: 'rule-target-dlq', ...who }),
        ...s.entities.map((e) =>
          queue(env, dlqName(n.capture[e.name]!), { kind: 'capture-dlq', entity: e.name, ...who }),
        ),
      ]),
    };
  }
  return out;
}

/** Runs `cutover <args>` with the operator commands on `context`. */
export async function runCli(
  context: () => CliContext | Promise<CliContext>,
  ...args: string[]
): Promise<{ out: string; err: string; code: number }> {
  const out: string[] = [];
  const err: string[] = [];
  const program = new Command('cutover')
    .exitOverride()
    .configureOutput({ writeErr: (s) => err.push(s), writeOut: (s) => out.push(s) });
  // Progress as a pipe or CI log sees it (plain lines), with the error output.
  const progress = { isTTY: false, write: (t: string) => err.push(t.replace(/\n$/, '')) };
  registerOperatorCommands(program, (t) => out.push(t), context, process.stdin, progress);
  process.exitCode = 0;
  let code = 0;
  try {
    await program.parseAsync(['node', 'cutover', ...args]);
    code = Number(process.exitCode ?? 0);
  } catch (e) {
    code = reportError(e, (l) => err.push(l));
  } finally {
    process.exitCode = 0;
  }
  return { out: out.join('\n'), err: err.join('\n'), code };
}
