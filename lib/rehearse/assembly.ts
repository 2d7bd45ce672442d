/**
 * The cloud assembly read back into the model the rehearsal runs: what `cdk synth` produced —
 * rules and their patterns and targets, queues with their redrive policies, event source
 * mappings, functions (handler entry, environment, timeout, reserved concurrency), pipes,
 * schedules, state machines, AppConfig content and strategies, alarms, tables — with every
 * token (`Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Sub`, `Fn::ImportValue` across stacks) resolved.
 * Resources are named `<stack>/<logicalId>`.
 *
 * The rehearsal wires its local bus, queues and functions from this model only, so a template
 * that would misroute on AWS misroutes here too.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HANDLER_METADATA } from '../constructs/cutover-function.js';
import {
  type AslDefinition,
  allStates,
  type CfnTemplate,
  definitionOf,
  type Json,
  resolveIntrinsics,
} from './cfn.js';

/** The assembly is missing a part the rehearsal needs, or a part is malformed. */
export class AssemblyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AssemblyError';
  }
}

/** `<stack>/<logicalId>` */
export type ResourceId = string;

export interface RuleTarget {
  readonly id: string;
  /** The queue, function or state machine the target delivers to. */
  readonly resource: ResourceId;
  readonly kind: 'queue' | 'function' | 'state-machine' | 'other';
  readonly deadLetterQueue?: ResourceId;
  readonly maximumRetryAttempts?: number;
  readonly maximumEventAgeSeconds?: number;
  /** The target's constant `Input` (parsed), which replaces the event. */
  readonly input?: unknown;
}

export interface RuleModel {
  readonly id: ResourceId;
  readonly stack: string;
  readonly description?: string;
  readonly enabled: boolean;
  /** The bus; absent for schedules on the default bus. */
  readonly bus?: ResourceId;
  readonly eventPattern?: Record<string, unknown>;
  readonly schedule?: { readonly expression: string; readonly everyMs?: number };
  readonly targets: readonly RuleTarget[];
}

export interface QueueModel {
  readonly id: ResourceId;
  readonly name: string;
  readonly visibilityTimeoutSeconds: number;
  readonly redrive?: { readonly deadLetterQueue: ResourceId; readonly maxReceiveCount: number };
}

export interface MappingModel {
  readonly id: ResourceId;
  readonly queue: ResourceId;
  readonly function: ResourceId;
  readonly batchSize: number;
  readonly maximumBatchingWindowSeconds: number;
  readonly maximumConcurrency?: number;
  readonly reportBatchItemFailures: boolean;
}

export interface FunctionModel {
  readonly id: ResourceId;
  readonly stack: string;
  /** Handler name: the file name in lambdas/handlers without extension (`forward-sync`). */
  readonly handler: string;
  /** Absolute path of the handler entry (it may be gone when the assembly is older than the code). */
  readonly entry: string;
  readonly environment: Readonly<Record<string, string>>;
  readonly timeoutSeconds: number;
  readonly reservedConcurrency?: number;
  readonly description?: string;
}

export interface PipeModel {
  readonly id: ResourceId;
  readonly name?: string;
  /** The DynamoDB table whose stream is the source. */
  readonly sourceTable: ResourceId;
  readonly batchSize: number;
  readonly filters: readonly Record<string, unknown>[];
  readonly enrichment?: ResourceId;
  readonly targetBus: ResourceId;
  readonly detailTypePath?: string;
  readonly sourcePath?: string;
  readonly inputTemplate?: string;
}

export interface TableModel {
  readonly id: ResourceId;
  readonly name: string;
  readonly keySchema: readonly { AttributeName: string; KeyType: 'HASH' | 'RANGE' }[];
  readonly attributeDefinitions: readonly { AttributeName: string; AttributeType: 'S' | 'N' | 'B' }[];
  readonly globalSecondaryIndexes?: readonly Record<string, unknown>[];
  readonly streamViewType?: string;
}

export interface AlarmModel {
  readonly id: ResourceId;
  readonly name: string;
  readonly metric?: {
    readonly namespace: string;
    readonly name: string;
    readonly dimensions: Readonly<Record<string, string>>;
  };
  readonly statistic?: string;
  readonly threshold?: number;
  readonly comparison: string;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm?: number;
  readonly periodSeconds?: number;
  /** Metric-math alarms: the expression and its metrics, as in the template. */
  readonly metrics?: readonly Record<string, unknown>[];
}

export interface DeploymentStrategyModel {
  readonly id: ResourceId;
  readonly name: string;
  readonly deploymentDurationMinutes: number;
  readonly finalBakeTimeMinutes: number;
  readonly growthFactor: number;
  readonly growthType: string;
}

export interface AssemblyModel {
  readonly directory: string;
  readonly stacks: readonly string[];
  /** Event buses: id -> name. */
  readonly buses: Readonly<Record<ResourceId, string>>;
  readonly rules: readonly RuleModel[];
  readonly queues: Readonly<Record<ResourceId, QueueModel>>;
  readonly mappings: readonly MappingModel[];
  readonly functions: Readonly<Record<ResourceId, FunctionModel>>;
  readonly pipes: readonly PipeModel[];
  readonly tables: Readonly<Record<ResourceId, TableModel>>;
  readonly stateMachines: Readonly<Record<ResourceId, AslDefinition>>;
  readonly appConfig: {
    /** Hosted configuration versions' content (parsed JSON). */
    readonly contents: readonly { readonly id: ResourceId; readonly content: unknown }[];
    readonly strategies: readonly DeploymentStrategyModel[];
  };
  readonly alarms: readonly AlarmModel[];
}

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Manifest {
  readonly artifacts: Record<string, { type: string; properties?: { templateFile?: string } }>;
}

/** The templates of a cloud assembly directory (`cdk.out`), by stack name. */
export function readTemplates(directory: string): Record<string, CfnTemplate> {
  const manifestFile = path.join(directory, 'manifest.json');
  if (!existsSync(manifestFile))
    throw new AssemblyError(`${directory} is not a cloud assembly (no manifest.json)`);
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
  const out: Record<string, CfnTemplate> = {};
  for (const [name, a] of Object.entries(manifest.artifacts)) {
    if (a.type !== 'aws:cloudformation:stack' || !a.properties?.templateFile) continue;
    out[name] = JSON.parse(
      readFileSync(path.join(directory, a.properties.templateFile), 'utf8'),
    ) as CfnTemplate;
  }
  if (Object.keys(out).length === 0) throw new AssemblyError(`${directory} has no stacks`);
  return out;
}

const ARN_ID =
  /^arn:aws:[a-z0-9-]+:[^:]*:[^:]*:(?:function:|stateMachine:|event-bus\/|table\/)?([A-Za-z0-9]+)$/;

/**
 * Reads the model out of a cloud assembly directory, or out of templates given directly (tests
 * mutate a model instead: see {@link AssemblyModel}).
 */
export function readAssembly(directory: string, templates = readTemplates(directory)): AssemblyModel {
  const exports = new Map<string, { stack: string; value: Json }>();
  for (const [stack, t] of Object.entries(templates)) {
    for (const o of Object.values(t.Outputs ?? {})) {
      if (typeof o.Export?.Name === 'string') exports.set(o.Export.Name, { stack, value: o.Value });
    }
  }
  // Cross-stack values resolve to the owning stack's resource; ARNs are turned back into ids.
  const owner = new Map<string, string>();
  const resolver = (stack: string) => {
    const template = templates[stack]!;
    const resolve = (v: Json): Json =>
      resolveIntrinsics(template, v, {
        physicalNames: true,
        importValue: (name) => {
          const e = exports.get(name);
          if (!e) throw new AssemblyError(`${stack}: Fn::ImportValue ${name} is exported by no stack`);
          const value = resolver(e.stack)(e.value);
          if (typeof value === 'string') {
            owner.set(value, e.stack);
            // `<logicalId>.<Attribute>` (e.g. a table's StreamArn) belongs to the same stack.
            owner.set(value.replace(/\.[A-Za-z]+$/, ''), e.stack);
          }
          return value;
        },
      });
    return resolve;
  };
  /** The `<stack>/<logicalId>` a resolved ARN or name names. */
  const idOf = (stack: string, value: Json, what: string): ResourceId => {
    const text = String(value);
    const m = ARN_ID.exec(text) ?? /^https:\/\/sqs\.[^/]+\/\d+\/(.+)$/.exec(text);
    const name = m?.[1] ?? text;
    const home = owner.get(text) ?? stack;
    const t = templates[home]!;
    if (t.Resources[name]) return `${home}/${name}`;
    // A physical name (queue URL, table name): find the resource that carries it.
    for (const [s, tt] of Object.entries(templates)) {
      for (const [id, r] of Object.entries(tt.Resources)) {
        if (Object.values(r.Properties ?? {}).includes(name)) return `${s}/${id}`;
      }
    }
    throw new AssemblyError(`${stack}: ${what} "${text}" is no resource of the assembly`);
  };

  const rules: RuleModel[] = [];
  const queues: Record<ResourceId, QueueModel> = {};
  const mappings: MappingModel[] = [];
  const functions: Record<ResourceId, FunctionModel> = {};
  const pipes: PipeModel[] = [];
  const tables: Record<ResourceId, TableModel> = {};
  const stateMachines: Record<ResourceId, AslDefinition> = {};
  const contents: { id: ResourceId; content: unknown }[] = [];
  const strategies: DeploymentStrategyModel[] = [];
  const alarms: AlarmModel[] = [];
  const buses: Record<ResourceId, string> = {};

  for (const [stack, template] of Object.entries(templates)) {
    const resolve = resolver(stack);
    for (const [logicalId, res] of Object.entries(template.Resources)) {
      const id = `${stack}/${logicalId}`;
      const p = (res.Properties ?? {}) as Record<string, Json>;
      const r = () => resolve(p as Json) as Record<string, Json>;
      switch (res.Type) {
        case 'AWS::Events::EventBus':
          buses[id] = String(r()['Name'] ?? logicalId);
          break;
        case 'AWS::SQS::Queue': {
          const q = r();
          const redrive = q['RedrivePolicy'] as
            | { deadLetterTargetArn: Json; maxReceiveCount: Json }
            | undefined;
          queues[id] = {
            id,
            name: String(q['QueueName'] ?? logicalId),
            visibilityTimeoutSeconds: Number(q['VisibilityTimeout'] ?? 30),
            ...(redrive
              ? {
                  redrive: {
                    deadLetterQueue: idOf(
                      stack,
                      redrive.deadLetterTargetArn,
                      'RedrivePolicy.deadLetterTargetArn',
                    ),
                    maxReceiveCount: Number(redrive.maxReceiveCount),
                  },
                }
              : {}),
          };
          break;
        }
        case 'AWS::Events::Rule': {
          const rule = r();
          const targets = ((rule['Targets'] as Record<string, Json>[] | undefined) ?? []).map(
            (t): RuleTarget => {
              const resource = idOf(stack, t['Arn']!, `rule ${logicalId} target`);
              const type = templates[resource.split('/')[0]!]!.Resources[resource.split('/')[1]!]!.Type;
              const retry = t['RetryPolicy'] as Record<string, Json> | undefined;
              const dlq = (t['DeadLetterConfig'] as Record<string, Json> | undefined)?.['Arn'];
              return {
                id: String(t['Id']),
                resource,
                kind:
                  type === 'AWS::SQS::Queue'
                    ? 'queue'
                    : type === 'AWS::Lambda::Function'
                      ? 'function'
                      : type === 'AWS::StepFunctions::StateMachine'
                        ? 'state-machine'
                        : 'other',
                ...(dlq ? { deadLetterQueue: idOf(stack, dlq, `rule ${logicalId} DeadLetterConfig`) } : {}),
                ...(retry?.['MaximumRetryAttempts'] !== undefined
                  ? { maximumRetryAttempts: Number(retry['MaximumRetryAttempts']) }
                  : {}),
                ...(typeof t['Input'] === 'string' ? { input: JSON.parse(t['Input']) } : {}),
                ...(retry?.['MaximumEventAgeInSeconds'] !== undefined
                  ? { maximumEventAgeSeconds: Number(retry['MaximumEventAgeInSeconds']) }
                  : {}),
              };
            },
          );
          const expression = rule['ScheduleExpression'] as string | undefined;
          const pattern = rule['EventPattern'];
          rules.push({
            id,
            stack,
            ...(rule['Description'] ? { description: String(rule['Description']) } : {}),
            enabled: rule['State'] !== 'DISABLED',
            ...(rule['EventBusName']
              ? { bus: idOf(stack, rule['EventBusName'], `rule ${logicalId} EventBusName`) }
              : {}),
            ...(pattern
              ? {
                  eventPattern: (typeof pattern === 'string' ? JSON.parse(pattern) : pattern) as Record<
                    string,
                    unknown
                  >,
                }
              : {}),
            ...(expression ? { schedule: { expression, ...scheduleEvery(expression) } } : {}),
            targets,
          });
          break;
        }
        case 'AWS::Lambda::EventSourceMapping': {
          const m = r();
          const source = idOf(stack, m['EventSourceArn']!, `mapping ${logicalId} EventSourceArn`);
          if (templates[source.split('/')[0]!]!.Resources[source.split('/')[1]!]!.Type !== 'AWS::SQS::Queue')
            break;
          mappings.push({
            id,
            queue: source,
            function: idOf(stack, m['FunctionName']!, `mapping ${logicalId} FunctionName`),
            batchSize: Number(m['BatchSize'] ?? 10),
            maximumBatchingWindowSeconds: Number(m['MaximumBatchingWindowInSeconds'] ?? 0),
            ...((m['ScalingConfig'] as Record<string, Json> | undefined)?.['MaximumConcurrency'] !== undefined
              ? {
                  maximumConcurrency: Number(
                    (m['ScalingConfig'] as Record<string, Json>)['MaximumConcurrency'],
                  ),
                }
              : {}),
            reportBatchItemFailures: ((m['FunctionResponseTypes'] as Json[] | undefined) ?? []).includes(
              'ReportBatchItemFailures',
            ),
          });
          break;
        }
        case 'AWS::Lambda::Function': {
          const entryRel = res.Metadata?.[HANDLER_METADATA];
          if (typeof entryRel !== 'string') break; // not a Cutover function (e.g. a CDK provider)
          const f = resolve({
            Environment: p['Environment'] ?? null,
            Timeout: p['Timeout'] ?? null,
            ReservedConcurrentExecutions: p['ReservedConcurrentExecutions'] ?? null,
            Description: p['Description'] ?? null,
          }) as Record<string, Json>;
          const variables = ((f['Environment'] as Record<string, Json> | null)?.['Variables'] ??
            {}) as Record<string, Json>;
          const entry = path.join(PROJECT_ROOT, entryRel);
          functions[id] = {
            id,
            stack,
            handler: path.basename(entryRel, '.ts'),
            entry,
            environment: Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, String(v)])),
            timeoutSeconds: Number(f['Timeout'] ?? 3),
            ...(f['ReservedConcurrentExecutions'] !== null
              ? { reservedConcurrency: Number(f['ReservedConcurrentExecutions']) }
              : {}),
            ...(f['Description'] ? { description: String(f['Description']) } : {}),
          };
          break;
        }
        case 'AWS::Pipes::Pipe': {
          const pipe = r();
          const sourceParameters = (pipe['SourceParameters'] ?? {}) as Record<string, Record<string, Json>>;
          const stream = sourceParameters['DynamoDBStreamParameters'];
          const filters = ((
            sourceParameters['FilterCriteria'] as unknown as { Filters?: { Pattern: string }[] }
          )?.Filters ?? []) as { Pattern: string }[];
          const target = (pipe['TargetParameters'] ?? {}) as Record<string, Json>;
          const bus = (target['EventBridgeEventBusParameters'] ?? {}) as Record<string, Json>;
          const sourceArn = String(pipe['Source']);
          // A stream ARN is the table's ARN + /stream/<label>; the reader resolves it to the table.
          const tableId = /:table\/([^/]+)/.exec(sourceArn)?.[1] ?? sourceArn.replace(/\.StreamArn$/, '');
          pipes.push({
            id,
            ...(pipe['Name'] ? { name: String(pipe['Name']) } : {}),
            sourceTable: idOf(stack, tableId, `pipe ${logicalId} Source`),
            batchSize: Number(stream?.['BatchSize'] ?? 1),
            filters: filters.map((f) => JSON.parse(f.Pattern) as Record<string, unknown>),
            ...(pipe['Enrichment']
              ? { enrichment: idOf(stack, pipe['Enrichment'], `pipe ${logicalId} Enrichment`) }
              : {}),
            targetBus: idOf(stack, pipe['Target']!, `pipe ${logicalId} Target`),
            ...(bus['DetailType'] ? { detailTypePath: String(bus['DetailType']) } : {}),
            ...(bus['Source'] ? { sourcePath: String(bus['Source']) } : {}),
            ...(target['InputTemplate'] ? { inputTemplate: String(target['InputTemplate']) } : {}),
          });
          break;
        }
        case 'AWS::DynamoDB::Table': {
          const t = r();
          const stream = t['StreamSpecification'] as Record<string, Json> | undefined;
          tables[id] = {
            id,
            name: String(t['TableName'] ?? logicalId),
            keySchema: t['KeySchema'] as unknown as TableModel['keySchema'],
            attributeDefinitions: t['AttributeDefinitions'] as unknown as TableModel['attributeDefinitions'],
            ...(t['GlobalSecondaryIndexes']
              ? {
                  globalSecondaryIndexes: t['GlobalSecondaryIndexes'] as unknown as Record<string, unknown>[],
                }
              : {}),
            ...(stream?.['StreamViewType'] ? { streamViewType: String(stream['StreamViewType']) } : {}),
          };
          break;
        }
        case 'AWS::StepFunctions::StateMachine':
          stateMachines[id] = definitionOf(template, logicalId, {
            importValue: (name) => {
              const e = exports.get(name);
              if (!e) throw new AssemblyError(`${stack}: Fn::ImportValue ${name} is exported by no stack`);
              return resolveIntrinsics(templates[e.stack]!, e.value);
            },
          });
          break;
        case 'AWS::AppConfig::HostedConfigurationVersion': {
          const c = r();
          const text = String(c['Content']);
          let content: unknown = text;
          try {
            content = JSON.parse(text);
          } catch {
            // Not JSON (AppConfig accepts any content type): kept as text.
          }
          contents.push({ id, content });
          break;
        }
        case 'AWS::AppConfig::DeploymentStrategy': {
          const s = r();
          strategies.push({
            id,
            name: String(s['Name']),
            deploymentDurationMinutes: Number(s['DeploymentDurationInMinutes']),
            finalBakeTimeMinutes: Number(s['FinalBakeTimeInMinutes'] ?? 0),
            growthFactor: Number(s['GrowthFactor']),
            growthType: String(s['GrowthType'] ?? 'LINEAR'),
          });
          break;
        }
        case 'AWS::CloudWatch::Alarm': {
          const a = r();
          alarms.push({
            id,
            name: String(a['AlarmName'] ?? logicalId),
            ...(a['MetricName']
              ? {
                  metric: {
                    namespace: String(a['Namespace']),
                    name: String(a['MetricName']),
                    dimensions: Object.fromEntries(
                      ((a['Dimensions'] as { Name: string; Value: Json }[] | undefined) ?? []).map((d) => [
                        d.Name,
                        String(d.Value),
                      ]),
                    ),
                  },
                }
              : {}),
            ...(a['Statistic'] ? { statistic: String(a['Statistic']) } : {}),
            ...(a['Threshold'] !== undefined ? { threshold: Number(a['Threshold']) } : {}),
            comparison: String(a['ComparisonOperator']),
            evaluationPeriods: Number(a['EvaluationPeriods']),
            ...(a['DatapointsToAlarm'] !== undefined
              ? { datapointsToAlarm: Number(a['DatapointsToAlarm']) }
              : {}),
            ...(a['Period'] !== undefined ? { periodSeconds: Number(a['Period']) } : {}),
            ...(a['Metrics'] ? { metrics: a['Metrics'] as unknown as Record<string, unknown>[] } : {}),
          });
          break;
        }
      }
    }
  }
  return {
    directory,
    stacks: Object.keys(templates),
    buses,
    rules,
    queues,
    mappings,
    functions,
    pipes,
    tables,
    stateMachines,
    appConfig: { contents, strategies },
    alarms,
  };
}

/** `rate(1 minute)` / `rate(15 minutes)` as milliseconds; cron expressions are kept as text. */
function scheduleEvery(expression: string): { everyMs?: number } {
  const m = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (!m) return {};
  const unit = m[2]!.startsWith('minute') ? 60_000 : m[2]!.startsWith('hour') ? 3_600_000 : 86_400_000;
  return { everyMs: Number(m[1]) * unit };
}

/**
 * A copy of the model whose rollout gates check `checks` against `threshold` instead (a
 * rehearsal of other thresholds, as a changed spec would synthesize them). Used where a run is
 * about something else than these checks: the tests and the rollback benchmark raise the latency
 * checks, which on a loaded machine measure the machine. Throws when no gate has such a check.
 */
export function withGateThreshold(
  model: AssemblyModel,
  checks: readonly string[],
  threshold: number,
): AssemblyModel {
  const copy = structuredClone(model);
  let changed = 0;
  for (const def of Object.values(copy.stateMachines))
    for (const [, state] of allStates(def)) {
      const gate = (state['Parameters'] as { gate?: { checks?: { check: string; threshold: number }[] } })
        ?.gate;
      for (const c of gate?.checks ?? [])
        if (checks.includes(c.check)) {
          c.threshold = threshold;
          changed++;
        }
    }
  if (!changed) throw new RangeError(`no rollout gate of the assembly checks ${checks.join(' or ')}`);
  return copy;
}
