/**
 * CloudFormation templates of the synthesized app, read back: intrinsics resolved (shared by the
 * rollout tests and the rehearsal's assembly reader), and plain Amazon States Language from a
 * synthesized template: the `DefinitionString` of an
 * `AWS::StepFunctions::StateMachine`, with its CloudFormation intrinsics (`Fn::Join`, `Ref`,
 * `Fn::GetAtt`, `Fn::Sub`, `Fn::Select`, `Fn::Split`) resolved against placeholder ARNs, so
 * that aws-local-stepfunctions can execute exactly what CloudFormation would deploy.
 *
 * Placeholders: account {@link ACCOUNT}, region {@link REGION}, partition `aws`; a Lambda
 * function's `Arn` is `arn:aws:lambda:<region>:<account>:function:<LogicalId>`, so a task's
 * `Resource` (or `Parameters.FunctionName`) names the logical id of the function it invokes.
 */

export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export interface CfnTemplate {
  readonly Resources: Record<
    string,
    { Type: string; Properties?: Record<string, Json>; Metadata?: Record<string, Json> }
  >;
  readonly Outputs?: Record<string, { Value: Json; Export?: { Name: Json } }>;
}

/** How {@link resolveIntrinsics} resolves what the template alone cannot say. */
export interface ResolveOptions {
  /** `Fn::ImportValue`: the exported value (resolved in its own stack). @default - unsupported */
  readonly importValue?: (name: string) => Json;
  /**
   * `Ref`/`GetAtt …Name` of a resource with a physical name property (`TableName`, `QueueName`,
   * `Name`, ...) give that name instead of the logical id (the rehearsal creates the resources
   * under the names the functions are configured with). @default false
   */
  readonly physicalNames?: boolean;
}

const NAME_PROPERTY: Record<string, string> = {
  'AWS::DynamoDB::Table': 'TableName',
  'AWS::SQS::Queue': 'QueueName',
  'AWS::Events::EventBus': 'Name',
  'AWS::Lambda::Function': 'FunctionName',
  'AWS::StepFunctions::StateMachine': 'StateMachineName',
};

function physicalName(template: CfnTemplate, logicalId: string, options: ResolveOptions): string {
  if (!options.physicalNames) return logicalId;
  const res = template.Resources[logicalId];
  const prop = res && NAME_PROPERTY[res.Type];
  const value = prop ? res.Properties?.[prop] : undefined;
  return typeof value === 'string' ? value : logicalId;
}

const ARN_SERVICE: Record<string, string> = {
  'AWS::Lambda::Function': 'lambda',
  'AWS::StepFunctions::StateMachine': 'states',
  'AWS::SQS::Queue': 'sqs',
  'AWS::SNS::Topic': 'sns',
  'AWS::Events::EventBus': 'events',
  'AWS::DynamoDB::Table': 'dynamodb',
  'AWS::S3::Bucket': 's3',
  'AWS::Logs::LogGroup': 'logs',
};

/** The placeholder ARN of a resource of the template. */
export function placeholderArn(template: CfnTemplate, logicalId: string): string {
  const type = template.Resources[logicalId]?.Type;
  if (!type) throw new Error(`no resource ${logicalId} in the template`);
  switch (type) {
    case 'AWS::Lambda::Function':
      return `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${logicalId}`;
    case 'AWS::StepFunctions::StateMachine':
      return `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${logicalId}`;
    case 'AWS::S3::Bucket':
      return `arn:aws:s3:::${logicalId.toLowerCase()}`;
    case 'AWS::DynamoDB::Table':
      return `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${logicalId}`;
    case 'AWS::Events::EventBus':
      return `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/${logicalId}`;
    default:
      return `arn:aws:${ARN_SERVICE[type] ?? 'unknown'}:${REGION}:${ACCOUNT}:${logicalId}`;
  }
}

const PSEUDO: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::Region': REGION,
  'AWS::AccountId': ACCOUNT,
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::NoValue': '',
};

function ref(template: CfnTemplate, name: string, options: ResolveOptions = {}): string {
  if (name in PSEUDO) return PSEUDO[name]!;
  const res = template.Resources[name];
  if (!res) throw new Error(`Ref to unknown resource ${name}`);
  // Ref returns the ARN for state machines and topics, the name for most others.
  if (res.Type === 'AWS::StepFunctions::StateMachine' || res.Type === 'AWS::SNS::Topic') {
    return placeholderArn(template, name);
  }
  if (res.Type === 'AWS::SQS::Queue')
    return `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${physicalName(template, name, options)}`;
  return physicalName(template, name, options);
}

function getAtt(
  template: CfnTemplate,
  logicalId: string,
  attribute: string,
  options: ResolveOptions = {},
): string {
  if (attribute === 'Arn') return placeholderArn(template, logicalId);
  if (attribute === 'Name' || attribute === 'QueueName' || attribute === 'TableName')
    return physicalName(template, logicalId, options);
  return `${logicalId}.${attribute}`;
}

/** Resolves the intrinsics of a CloudFormation value. */
export function resolveIntrinsics(template: CfnTemplate, value: Json, options: ResolveOptions = {}): Json {
  const resolve = (v: Json) => resolveIntrinsics(template, v, options);
  if (Array.isArray(value)) return value.map(resolve);
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value);
  if (keys.length === 1) {
    const [k] = keys as [string];
    const arg = value[k]!;
    switch (k) {
      case 'Ref':
        return ref(template, arg as string, options);
      case 'Fn::GetAtt': {
        const [id, attr] = Array.isArray(arg) ? (arg as string[]) : (arg as string).split('.');
        return getAtt(template, id!, attr!, options);
      }
      case 'Fn::ImportValue': {
        if (!options.importValue) throw new Error('Fn::ImportValue needs the other stacks (importValue)');
        return options.importValue(String(resolve(arg)));
      }
      case 'Fn::Join': {
        const [sep, parts] = arg as [string, Json[]];
        return (resolve(parts) as Json[]).map(String).join(sep);
      }
      case 'Fn::Select': {
        const [i, list] = arg as [number, Json];
        return (resolve(list) as Json[])[Number(i)]!;
      }
      case 'Fn::Split': {
        const [sep, s] = arg as [string, Json];
        return String(resolve(s)).split(sep);
      }
      case 'Fn::Sub': {
        const [text, vars] = typeof arg === 'string' ? [arg, {}] : (arg as [string, Record<string, Json>]);
        return text.replace(/\$\{([^}!]+)\}/g, (_m, name: string) => {
          if (name in vars) return String(resolve(vars[name]!));
          if (name.includes('.')) {
            const [id, attr] = name.split('.');
            return getAtt(template, id!, attr!, options);
          }
          return ref(template, name, options);
        });
      }
    }
    if (k.startsWith('Fn::')) throw new Error(`unsupported intrinsic ${k}`);
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v)]));
}

export interface AslState {
  readonly Type: string;
  readonly Resource?: string;
  readonly Parameters?: Record<string, unknown>;
  readonly ItemProcessor?: AslDefinition;
  readonly Iterator?: AslDefinition;
  readonly [k: string]: unknown;
}
export interface AslDefinition {
  readonly StartAt: string;
  readonly States: Record<string, AslState>;
  readonly [k: string]: unknown;
}

/** The ASL of a state machine resource of the template (by logical id, or the only one). */
export function definitionOf(
  template: CfnTemplate,
  logicalId?: string,
  options: ResolveOptions = {},
): AslDefinition {
  const ids = Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine')
    .map(([id]) => id);
  const id = logicalId ?? (ids.length === 1 ? ids[0] : undefined);
  if (!id || !ids.includes(id))
    throw new Error(`state machine ${logicalId ?? '(only one)'} not found among ${ids.join(', ')}`);
  const raw = template.Resources[id]!.Properties!['DefinitionString']!;
  const text = resolveIntrinsics(template, raw, options);
  if (typeof text !== 'string') throw new Error('DefinitionString did not resolve to a string');
  return JSON.parse(text) as AslDefinition;
}

/** Every state of a definition, including those of Map item processors and Parallel branches. */
export function allStates(def: AslDefinition): Array<[string, AslState]> {
  const out: Array<[string, AslState]> = [];
  for (const [name, s] of Object.entries(def.States)) {
    out.push([name, s]);
    const inner = s.ItemProcessor ?? s.Iterator;
    if (inner) out.push(...allStates(inner));
    for (const b of (s['Branches'] as AslDefinition[] | undefined) ?? []) out.push(...allStates(b));
  }
  return out;
}

/** The logical id of the Lambda function a Task state invokes (`Resource` or `Parameters.FunctionName`). */
export function invokedFunction(state: AslState): string | undefined {
  const arn =
    typeof state.Parameters?.['FunctionName'] === 'string'
      ? (state.Parameters['FunctionName'] as string)
      : state.Resource;
  const m = /^arn:aws:lambda:[^:]+:\d+:function:([^:]+)/.exec(arn ?? '');
  return m?.[1];
}
