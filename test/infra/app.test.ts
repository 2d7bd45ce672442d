/**
 * The whole app, synthesized for every environment of cdk.json (once each, in beforeAll) with
 * cdk-nag's AwsSolutions pack and AWS Control Tower's proactive controls (and, for prod, CDK's
 * CloudFormation schema validation); bundling skipped (see bundling.test.ts). Synthesis throws
 * on any unacknowledged finding.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Validations } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { pollerTiming } from '../../lambdas/domain/poller-loop.js';
import { buildApp, type CutoverApp } from '../../lib/app.js';
import { HANDLER_METADATA } from '../../lib/constructs/cutover-function.js';
import { DISABLED_CONTROLS } from '../../lib/control-tower.js';
import { type CfnTemplate, definitionOf } from '../../lib/rehearse/cfn.js';
import { rollbackAlarmName } from '../../lib/spec/names.js';
import { captureDeadLetterVariable, RUNTIME_ENV } from '../../lib/spec/runtime.js';
import { legacyEventOf, serviceEventsOf } from '../../lib/spec/schema.js';
import { physicalTableName, serviceTables, syncTables } from '../../lib/spec/tables.js';
import { cdkJsonContext } from '../../lib/stacks/settings.js';
import { migrations } from '../../migrations/index.js';
import { LEGACY_HANDLERS } from '../support/function-kinds.js';

type Resource = { Type: string; Properties?: Record<string, any>; DeletionPolicy?: string };
type Template = { Resources: Record<string, Resource> };

const ENVS = Object.keys(cdkJsonContext()['environments'] as object);
const built: Record<
  string,
  { app: CutoverApp; assembly: CloudAssembly; templates: Record<string, Template> }
> = {};

beforeAll(() => {
  for (const env of ENVS) {
    const outdir = mkdtempSync(join(tmpdir(), `cutover-${env}-`));
    const app = buildApp({
      env,
      outdir,
      context: { 'aws:cdk:bundling-stacks': [] },
      nag: true,
      cfnValidation: env === 'prod', // schema validation costs ~8 s per app; the templates differ only in settings
    });
    const assembly = app.app.synth();
    const templates = Object.fromEntries(assembly.stacks.map((s) => [s.stackName, s.template as Template]));
    built[env] = { app, assembly, templates };
  }
  // Three syntheses with two policy plugins: ~1 min of CPU; a shared 2-core machine stretches it.
}, 900_000);

function resources(env: string, type?: string): [string, string, Resource][] {
  return Object.entries(built[env]!.templates).flatMap(([stack, t]) =>
    Object.entries(t.Resources)
      .filter(([, r]) => !type || r.Type === type)
      .map(([id, r]) => [stack, id, r] as [string, string, Resource]),
  );
}

function statements(node: unknown, out: Record<string, any>[] = []): Record<string, any>[] {
  if (Array.isArray(node)) for (const n of node) statements(n, out);
  else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (Array.isArray(o['Statement'])) out.push(...(o['Statement'] as Record<string, any>[]));
    for (const v of Object.values(o)) statements(v, out);
  }
  return out;
}

describe('App: all environments', () => {
  it.each(ENVS)('%s: a platform stack and one stack per service of each migration, env-agnostic', (env) => {
    const names = Object.keys(built[env]!.templates).sort();
    const expected = [
      `cutover-${env}-platform`,
      ...migrations.flatMap((m) =>
        m.services.map((s) => `cutover-${env}-${m.name}-${s.name.replace(/_/g, '-')}`),
      ),
    ].sort();
    expect(names).toEqual(expected);
    for (const s of built[env]!.assembly.stacks) expect(s.environment.region).toBe('unknown-region');
  });

  it.each(ENVS)('%s: cdk-nag and the Control Tower controls report nothing unacknowledged', (env) => {
    // Synthesis threw on any error finding; a report, when written, holds at most warnings.
    const report = join(built[env]!.assembly.directory, 'validation-report.json');
    if (!existsSync(report)) return;
    const r = JSON.parse(readFileSync(report, 'utf8')) as {
      pluginReports: { violations?: { ruleName: string; severity?: string }[] }[];
    };
    const violations = r.pluginReports.flatMap((p) => p.violations ?? []);
    expect(violations.filter((v) => v.severity !== 'warning')).toEqual([]);
  });

  it.each(ENVS)(
    '%s: every state machine has an execution timeout (TimeoutSeconds), at most one year',
    (env) => {
      const machines = resources(env, 'AWS::StepFunctions::StateMachine');
      expect(machines.length).toBeGreaterThan(0);
      for (const [stack, id] of machines) {
        const definition = definitionOf(built[env]!.templates[stack] as unknown as CfnTemplate, id);
        expect(definition['TimeoutSeconds'], `${stack}/${id}`).toEqual(expect.any(Number));
        expect(definition['TimeoutSeconds'] as number, `${stack}/${id}`).toBeGreaterThan(0);
        expect(definition['TimeoutSeconds'] as number, `${stack}/${id}`).toBeLessThanOrEqual(365 * 86_400);
      }
    },
  );

  it('every acknowledgement carries a reason a reviewer can check', () => {
    const acks: { path: string; id: string; reason: string }[] = [];
    const visit = (c: IConstruct) => {
      for (const m of c.node.metadata) {
        if (m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) {
          for (const [id, reason] of Object.entries(m.data as Record<string, string>)) {
            acks.push({ path: c.node.path, id, reason });
          }
        }
      }
      for (const child of c.node.children) visit(child);
    };
    visit(built['prod']!.app.app);
    expect(acks.length).toBeGreaterThan(0);
    for (const a of acks) {
      expect(a.reason.length, `${a.path} ${a.id}`).toBeGreaterThanOrEqual(40);
      expect(a.reason).not.toMatch(/todo|fixme|tbd/i);
    }
    // Mine: queues that are DLQs (SQS3) and resource wildcards AWS cannot scope (IAM5).
    const ids = new Set(acks.map((a) => a.id.replace(/^Annotation::/i, '').replace(/\[.*$/, '')));
    expect(ids).toContain('AwsSolutions-SQS3');
    expect(ids).toContain('AwsSolutions-IAM5');
    expect(ids).not.toContain('AwsSolutions-IAM4'); // no managed policies
  });

  it("the README's security section lists every acknowledged rule and every disabled control", () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(
      readme.indexOf('\n## Security'),
      readme.indexOf('\n## ', readme.indexOf('\n## Security') + 1),
    );
    expect(section.length).toBeGreaterThan(500);
    const ids = new Set<string>();
    for (const env of ENVS) {
      const visit = (c: IConstruct) => {
        for (const m of c.node.metadata) {
          if (m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) {
            for (const id of Object.keys(m.data as object)) {
              ids.add(
                id
                  .replace(/^annotation::/i, '')
                  .replace(/^cdk-validator-cfnguard::/, '')
                  .replace(/\[.*$/, ''),
              );
            }
          }
        }
        for (const child of c.node.children) visit(child);
      };
      visit(built[env]!.app.app);
    }
    expect(ids).toContain('sqs_dlq_check');
    // aws-cdk-lib acknowledges some of its own CloudFormation schema-validation findings.
    for (const id of ids) if (id.startsWith('CloudFormation-Validate::')) ids.delete(id);
    for (const id of ids) expect(section, id).toContain(id);
    for (const d of DISABLED_CONTROLS) {
      expect(section).toContain(d.control);
      expect(section).toContain(d.rule);
    }
  });

  it.each(ENVS)('%s: no Allow statement has a wildcard action', (env) => {
    // A KMS key policy's statement for the account root (`kms:*`) is the AWS default that hands
    // the key's access control to IAM; it is not an identity permission and is left out.
    const rootAdmin = (r: Resource) =>
      r.Type === 'AWS::KMS::Key'
        ? {
            ...r,
            Properties: {
              ...r.Properties,
              KeyPolicy: {
                Statement: r.Properties!['KeyPolicy'].Statement.filter(
                  (s: Record<string, any>) => !JSON.stringify(s.Principal ?? '').includes(':root'),
                ),
              },
            },
          }
        : r;
    const all = Object.values(built[env]!.templates).flatMap((t) =>
      statements(Object.values(t.Resources).map(rootAdmin)),
    );
    expect(all.length).toBeGreaterThan(50);
    const wildcard = all.filter((s) => {
      if (s['Effect'] !== 'Allow') return false; // TLS-only queue policies deny sqs:* by design
      const actions = ([] as unknown[]).concat(s['Action'] ?? s['NotAction'] ?? []);
      return (
        s['NotAction'] !== undefined ||
        actions.some((a) => typeof a === 'string' && (a === '*' || a.endsWith(':*')))
      );
    });
    expect(wildcard).toEqual([]);
  });

  it.each(ENVS)('%s: every asynchronous target has a dead-letter queue', (env) => {
    for (const [, id, rule] of resources(env, 'AWS::Events::Rule')) {
      for (const target of rule.Properties!['Targets']) {
        expect(target.DeadLetterConfig?.Arn, `rule ${id} target ${target.Id}`).toBeDefined();
      }
    }
    for (const [, id, pipe] of resources(env, 'AWS::Pipes::Pipe')) {
      expect(
        pipe.Properties!['SourceParameters'].DynamoDBStreamParameters.DeadLetterConfig.Arn,
        id,
      ).toBeDefined();
    }
    for (const [stack, id, esm] of resources(env, 'AWS::Lambda::EventSourceMapping')) {
      const queueId = esm.Properties!['EventSourceArn']['Fn::GetAtt'][0];
      const queue = built[env]!.templates[stack]!.Resources[queueId]!;
      expect(queue.Type).toBe('AWS::SQS::Queue');
      expect(queue.Properties!['RedrivePolicy']?.maxReceiveCount, `${id} source queue`).toBeGreaterThan(0);
    }
    // Functions that event-pattern rules invoke asynchronously keep failed events too.
    for (const [stack, , rule] of resources(env, 'AWS::Events::Rule')) {
      if (!rule.Properties!['EventPattern']) continue;
      for (const target of rule.Properties!['Targets']) {
        const ref = target.Arn['Fn::GetAtt']?.[0];
        const r = ref && built[env]!.templates[stack]!.Resources[ref];
        if (r?.Type === 'AWS::Lambda::Function')
          expect(r.Properties!['DeadLetterConfig']?.TargetArn).toBeDefined();
      }
    }
  });

  it.each(ENVS)(
    "%s: every queue is encrypted; every queue without a redrive policy is someone's DLQ",
    (env) => {
      const all = resources(env);
      const text = JSON.stringify(all.map(([, , r]) => r));
      for (const [, id, q] of resources(env, 'AWS::SQS::Queue')) {
        expect(q.Properties!['SqsManagedSseEnabled'] || q.Properties!['KmsMasterKeyId'], id).toBeTruthy();
        if (!q.Properties!['RedrivePolicy'] && !String(q.Properties!['QueueName']).endsWith('-debezium')) {
          expect(String(q.Properties!['QueueName']), id).toMatch(/-dlq$/);
          expect(text).toContain(id);
        }
      }
      for (const [, id, t] of resources(env, 'AWS::DynamoDB::Table')) {
        expect(t.Properties!['SSESpecification']?.SSEEnabled, id).toBe(true);
        expect(t.Properties!['PointInTimeRecoverySpecification']?.PointInTimeRecoveryEnabled, id).toBe(true);
      }
    },
  );

  it.each(ENVS)('%s: Lambdas are arm64 on the latest Node.js and read only RUNTIME_ENV variables', (env) => {
    const known = new Set<string>([
      ...Object.values(RUNTIME_ENV),
      // One capture DLQ variable per entity (ServiceChangeCapture).
      ...migrations.flatMap((m) =>
        m.services.flatMap((s) => s.entities.map((e) => captureDeadLetterVariable(e.name))),
      ),
      'POWERTOOLS_SERVICE_NAME',
      'POWERTOOLS_LOG_LEVEL',
      'POWERTOOLS_LOGGER_LOG_EVENT',
      'NODE_OPTIONS',
    ]);
    const fns = resources(env, 'AWS::Lambda::Function');
    expect(fns.length).toBeGreaterThanOrEqual(20);
    for (const [, id, f] of fns) {
      expect(f.Properties!['Runtime'], id).toBe('nodejs24.x');
      expect(f.Properties!['Architectures'], id).toEqual(['arm64']);
      for (const name of Object.keys(f.Properties!['Environment']?.Variables ?? {})) {
        if (!name.startsWith('CUTOVER_GATEWAY') && !name.startsWith('CUTOVER_ROLLOUT'))
          expect(known, `${id}: ${name}`).toContain(name);
      }
    }
  });

  it.each(ENVS)(
    '%s: only the functions that query the legacy side get its secret and (MySQL) run in its VPC',
    (env) => {
      const policies = resources(env, 'AWS::IAM::Policy');
      const actionsOf = (stack: string, roleId: string): string[] =>
        policies
          .filter(
            ([s, , p]) =>
              s === stack &&
              (p.Properties!['Roles'] as unknown[]).some(
                (r) => JSON.stringify(r) === JSON.stringify({ Ref: roleId }),
              ),
          )
          .flatMap(([, , p]) => statements(p.Properties!['PolicyDocument']))
          .flatMap((st) => [st['Action']].flat() as string[]);
      const seen = { legacy: 0, other: 0 };
      for (const [stack, id, f] of resources(env, 'AWS::Lambda::Function')) {
        const entry = (f as { Metadata?: Record<string, string> }).Metadata?.[HANDLER_METADATA];
        if (!entry) continue; // CDK's own functions (custom resources)
        const handler = entry.replace(/^lambdas\/handlers\/|\.ts$/g, '');
        const queries = LEGACY_HANDLERS.has(handler);
        const roleId = (f.Properties!['Role'] as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
        const actions = actionsOf(stack, roleId);
        const env_ = Object.keys(f.Properties!['Environment']?.Variables ?? {});
        const mysql = stack.includes('-magento');
        if (queries) seen.legacy++;
        else {
          seen.other++;
          expect(actions, `${stack}/${id} (${handler})`).not.toContain('secretsmanager:GetSecretValue');
          expect(env_, `${stack}/${id} (${handler})`).not.toContain(RUNTIME_ENV.legacySecretArn);
          expect(f.Properties!['VpcConfig'], `${stack}/${id} (${handler})`).toBeUndefined();
        }
        if (queries && mysql) {
          expect(actions, `${stack}/${id} (${handler})`).toContain('secretsmanager:GetSecretValue');
          expect(f.Properties!['VpcConfig'], `${stack}/${id} (${handler})`).toBeDefined();
        }
      }
      expect(seen.legacy).toBeGreaterThan(10);
      expect(seen.other).toBeGreaterThan(10);
    },
  );
});

describe('App: guards', () => {
  it('fails synthesis on an unacknowledged cdk-nag finding', () => {
    const { app, platform } = buildApp({
      env: 'dev',
      outdir: mkdtempSync(join(tmpdir(), 'cutover-nag-')),
      context: { 'aws:cdk:bundling-stacks': [] },
      migrations: [], // the platform stack alone: the finding is the queue below
    });
    new sqs.CfnQueue(platform, 'PlainQueue'); // unencrypted, no DLQ, no TLS policy
    expect(() => app.synth()).toThrow(/SQS queue/);
  });

  it('fails synthesis on a finding of an enabled Control Tower rule', () => {
    const { app, platform } = buildApp({
      env: 'prod',
      outdir: mkdtempSync(join(tmpdir(), 'cutover-ct-')),
      context: { 'aws:cdk:bundling-stacks': [] },
      migrations: [],
    });
    // No KMS key. The app acknowledges other findings (the bus's DLQ): this one must still fail.
    new logs.CfnLogGroup(platform, 'PlainLogs', { retentionInDays: 365 });
    expect(() => app.synth()).toThrow(/CT\.CLOUDWATCH\.PR\.3[\s\S]*cutover-prod-platform\/PlainLogs/);
  });

  it('names the environment or setting that is wrong', () => {
    expect(() => buildApp({ env: 'qa' })).toThrow(
      'Unknown environment "qa": cdk.json context.environments names dev, staging, prod',
    );
    const environments = {
      dev: { logRetentionDays: 10, archiveRetentionDays: 7, decommissionArchiveDays: 7 },
    };
    expect(() => buildApp({ env: 'dev', context: { environments } })).toThrow(
      "context.environments.dev.logRetentionDays must be one of CloudWatch's values",
    );
    expect(() =>
      buildApp({
        env: 'staging',
        context: {
          environments: {
            staging: { logRetentionDays: 30, archiveRetentionDays: 30, decommissionArchiveDays: 30 },
          },
        },
      }),
    ).toThrow('the legacy database network is not named');
  });
});

describe('App: the spec drives the stacks', () => {
  it('creates the tables of lib/spec/tables.ts for every migration', () => {
    const names = resources('staging', 'AWS::DynamoDB::Table').map(([, , t]) => t.Properties!['TableName']);
    const expected = migrations.flatMap((m) =>
      [...serviceTables(m), ...syncTables()].map((d) => physicalTableName('staging', m, d)),
    );
    expect(names.sort()).toEqual(expected.sort());
  });

  it("routes each service's legacy and service events to its channels; reverse sync is capped", () => {
    for (const m of migrations) {
      for (const s of m.services) {
        const t = built['dev']!.templates[`cutover-dev-${m.name}-${s.name.replace(/_/g, '-')}`]!;
        const patterns = Object.values(t.Resources)
          .filter((r) => r.Type === 'AWS::Events::Rule' && r.Properties!['EventPattern'])
          .map((r) => r.Properties!['EventPattern']);
        expect(patterns).toContainEqual({
          source: ['cutover.legacy'],
          'detail-type': s.entities.map(legacyEventOf),
        });
        const reverse = patterns.find((p) => p.source[0] === 'cutover.service')!;
        for (const e of s.entities) {
          for (const dt of [...serviceEventsOf(e), `${e.name}.updated`])
            expect(reverse['detail-type']).toContain(dt);
        }
        const esms = Object.values(t.Resources).filter((r) => r.Type === 'AWS::Lambda::EventSourceMapping');
        const capped = esms.filter((r) => r.Properties!['ScalingConfig']);
        expect(capped.map((r) => r.Properties!['ScalingConfig'].MaximumConcurrency)).toEqual([
          m.sync.reverseMaxConcurrency,
        ]);
        const strong = s.entities.some((e) => e.consistency === 'strong');
        for (const r of esms) {
          expect(r.Properties!['FunctionResponseTypes']).toEqual(['ReportBatchItemFailures']);
          expect(r.Properties!['MaximumBatchingWindowInSeconds']).toBe(
            strong ? undefined : m.sync.eventualBatchingWindowSeconds,
          );
        }
        // a parked value the legacy database cannot store alarms, on the service's own metric
        const unstorable = Object.values(t.Resources).filter(
          (r) =>
            r.Type === 'AWS::CloudWatch::Alarm' && r.Properties!['MetricName'] === 'unstorable_value_total',
        );
        expect(unstorable.map((r) => [r.Properties!['Dimensions'], r.Properties!['Threshold']])).toEqual([
          [[{ Name: 'service', Value: s.name }], 0],
        ]);
        // one change-capture pipe per service table
        expect(Object.values(t.Resources).filter((r) => r.Type === 'AWS::Pipes::Pipe')).toHaveLength(
          s.entities.length,
        );
      }
    }
  });

  it("makes the services' rollback alarms the AppConfig monitors and the rollback rule's trigger", () => {
    const platform = built['prod']!.templates['cutover-prod-platform']!;
    const composite = Object.entries(platform.Resources).filter(
      ([, r]) => r.Type === 'AWS::CloudWatch::CompositeAlarm',
    );
    const magento = migrations.find((m) => m.name === 'magento')!;
    expect(composite.map(([, r]) => r.Properties!['AlarmName']).sort()).toEqual(
      migrations.flatMap((m) => m.services.map((s) => rollbackAlarmName('prod', m.name, s.name))).sort(),
    );
    const envs = Object.values(platform.Resources).filter((r) => r.Type === 'AWS::AppConfig::Environment');
    const magentoEnv = envs.find((e) => e.Properties!['Monitors'].length === magento.services.length)!;
    for (const monitor of magentoEnv.Properties!['Monitors']) {
      const id = monitor.AlarmArn['Fn::GetAtt'][0];
      expect(platform.Resources[id]!.Type).toBe('AWS::CloudWatch::CompositeAlarm');
    }
  });

  it('differs per environment where cdk.json says so', () => {
    const count = (env: string, type: string) => resources(env, type).length;
    expect(count('dev', 'AWS::EC2::VPC')).toBe(1);
    expect(count('staging', 'AWS::EC2::VPC')).toBe(0);
    expect(count('prod', 'AWS::EC2::VPC')).toBe(0);
    const prodTables = resources('prod', 'AWS::DynamoDB::Table').map(([, , t]) => t);
    expect(
      prodTables.every(
        (t) => t.Properties!['DeletionProtectionEnabled'] === true && t.DeletionPolicy === 'Retain',
      ),
    ).toBe(true);
    expect(
      resources('dev', 'AWS::DynamoDB::Table').every(
        ([, , t]) => t.Properties!['DeletionProtectionEnabled'] === false,
      ),
    ).toBe(true);
    const gradual = (env: string) =>
      resources(env, 'AWS::AppConfig::DeploymentStrategy')
        .map(([, , r]) => r.Properties!)
        .find((p) => String(p['Name']).endsWith('-gradual'))!;
    expect(gradual('dev')).toMatchObject({ DeploymentDurationInMinutes: 1, FinalBakeTimeInMinutes: 2 });
    expect(gradual('prod')).toMatchObject({ DeploymentDurationInMinutes: 10, FinalBakeTimeInMinutes: 30 });
    const archive = (env: string) =>
      resources(env, 'AWS::Events::Archive')[0]![2].Properties!['RetentionDays'];
    expect([archive('dev'), archive('staging'), archive('prod')]).toEqual([7, 30, 90]);
    const vpcFn = resources('prod', 'AWS::Lambda::Function').find(([, , f]) => f.Properties!['VpcConfig'])!;
    expect(vpcFn[2].Properties!['VpcConfig'].SubnetIds).toEqual([
      'subnet-0c1d2e3f4a5b60718',
      'subnet-0d1e2f3a4b5c60718',
    ]);
    // The alarm topic, and the people's topic where cdk.json sets `notifications` (prod).
    for (const env of ENVS) {
      expect(count(env, 'AWS::SNS::Topic')).toBe(built[env]!.app.settings.notifications ? 2 : 1);
    }
    expect(built['prod']!.app.settings.notifications).toBeDefined();
  });

  it('keeps the decommission archive under a key of its own, locked, readable by one role only', () => {
    const days = { dev: 7, staging: 90, prod: 2557 } as Record<string, number>;
    for (const env of ENVS) {
      for (const [name, t] of Object.entries(built[env]!.templates)) {
        const archive = Object.entries(t.Resources).find(
          ([id, r]) => r.Type === 'AWS::S3::Bucket' && id.startsWith('RolloutDecommissionStoreBucket'),
        );
        if (!archive) continue;
        const [archiveId, bucket] = archive;
        const p = bucket.Properties!;
        const sse = p['BucketEncryption'].ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault;
        expect(sse.SSEAlgorithm, name).toBe('aws:kms');
        const keyId = sse.KMSMasterKeyID['Fn::GetAtt'][0];
        expect(keyId).toMatch(/^RolloutDecommissionKey/);
        expect(t.Resources[keyId]!.Properties!['EnableKeyRotation']).toBe(true);
        expect(p['VersioningConfiguration']).toEqual({ Status: 'Enabled' });
        expect(p['ObjectLockEnabled']).toBe(true);
        expect(p['ObjectLockConfiguration'].Rule.DefaultRetention).toEqual({
          Mode: 'GOVERNANCE',
          Days: days[env],
        });
        expect(p['LifecycleConfiguration'].Rules).toContainEqual(
          expect.objectContaining({ ExpirationInDays: days[env]! + 1, Status: 'Enabled' }),
        );
        expect(p['LoggingConfiguration'].DestinationBucketName).toBeDefined();
        expect(p['NotificationConfiguration']).toEqual({
          EventBridgeConfiguration: { EventBridgeEnabled: true },
        });
        expect(bucket.DeletionPolicy).toBe('Retain');
        const policy = Object.values(t.Resources).find(
          (r) => r.Type === 'AWS::S3::BucketPolicy' && r.Properties!['Bucket'].Ref === archiveId,
        )!;
        const deny = policy.Properties!['PolicyDocument'].Statement.find(
          (st: Record<string, any>) => st.Sid === 'ReadsOnlyByTheArchiveReader',
        );
        expect(deny).toMatchObject({ Effect: 'Deny', Principal: { AWS: '*' } });
        expect(deny.Action).toContain('s3:GetObject');
        const readerId = deny.Condition.ArnNotEquals['aws:PrincipalArn']['Fn::GetAtt'][0];
        expect(t.Resources[readerId]!.Properties!['RoleName']).toMatch(/-archive-reader$/);
      }
    }
  });

  it('the functions that can repair (consistency check, validation compare) read the deployed write mode through AppConfig Data', () => {
    for (const m of migrations) {
      for (const s of m.services) {
        const t = built['dev']!.templates[`cutover-dev-${m.name}-${s.name.replace(/_/g, '-')}`]!;
        const repairing = Object.entries(t.Resources).filter(
          ([, r]) =>
            r.Type === 'AWS::Lambda::Function' &&
            (String(r.Properties!['Description']).startsWith(`${s.name}: compares counts and checksums`) ||
              String(r.Properties!['Description']).startsWith('cutover validation-compare')),
        );
        expect(repairing).toHaveLength(2);
        for (const [, fn] of repairing) {
          const vars = fn.Properties!['Environment'].Variables;
          for (const name of [
            RUNTIME_ENV.appConfigApplicationId,
            RUNTIME_ENV.appConfigEnvironmentId,
            RUNTIME_ENV.appConfigProfileId,
          ])
            expect(vars[name], name).toBeDefined();
          const role = fn.Properties!['Role']['Fn::GetAtt'][0];
          const policies = Object.values(t.Resources).filter(
            (r) => r.Type === 'AWS::IAM::Policy' && r.Properties!['Roles'].some((x: any) => x.Ref === role),
          );
          expect(
            statements(policies).some(
              (st) =>
                [st.Action].flat().includes('appconfig:GetLatestConfiguration') && st.Effect === 'Allow',
            ),
          ).toBe(true);
        }
      }
    }
  });

  it('runs one continuous poller per service: timeout = period + handover + safety, at most two at once, the schedule asks for continuous polling', () => {
    for (const m of migrations) {
      const timing = pollerTiming(m.sync);
      for (const s of m.services) {
        const t = built['dev']!.templates[`cutover-dev-${m.name}-${s.name.replace(/_/g, '-')}`]!;
        const pollers = Object.entries(t.Resources).filter(
          ([, r]) =>
            r.Type === 'AWS::Lambda::Function' &&
            String(r.Properties!['Description']).startsWith(`${s.name}: polls legacy changes`),
        );
        expect(pollers).toHaveLength(1);
        const [id, fn] = pollers[0]!;
        expect(fn.Properties!['Timeout']).toBe(timing.timeoutSeconds);
        expect(fn.Properties!['Timeout']).toBe(m.sync.pollerIntervalMinutes * 60 + 40);
        expect(fn.Properties!['ReservedConcurrentExecutions']).toBe(2);
        // It polls its own service's entities only (one lease per service).
        expect(fn.Properties!['Environment'].Variables[RUNTIME_ENV.service]).toBe(s.name);
        const invokeConfig = Object.values(t.Resources).find(
          (r) => r.Type === 'AWS::Lambda::EventInvokeConfig' && r.Properties!['FunctionName'].Ref === id,
        );
        expect(invokeConfig?.Properties?.['MaximumRetryAttempts']).toBe(0);
        const schedules = Object.values(t.Resources).filter(
          (r) =>
            r.Type === 'AWS::Events::Rule' &&
            r.Properties!['Targets']?.some((x: any) => x.Arn?.['Fn::GetAtt']?.[0] === id),
        );
        expect(schedules).toHaveLength(1);
        const minutes = m.sync.pollerIntervalMinutes;
        expect(schedules[0]!.Properties!['ScheduleExpression']).toBe(
          `rate(${minutes} minute${minutes === 1 ? '' : 's'})`,
        );
        expect(JSON.parse(schedules[0]!.Properties!['Targets'][0].Input)).toEqual({ continuous: true });
      }
    }
  });

  it('puts one gateway router (HTTP API) per migration in front of the routes', () => {
    expect(resources('prod', 'AWS::ApiGatewayV2::Api')).toHaveLength(migrations.length);
  });

  it('hands the rollout everything it needs on each service stack', () => {
    for (const stack of built['dev']!.app.services) {
      const r = stack.rollout;
      expect(r.flags.applicationId).toBeDefined();
      expect(r.monitors.rollbackAlarm).toBeDefined();
      expect(Object.keys(r.serviceTables).sort()).toEqual(r.service.entities.map((e) => e.name).sort());
      expect(Object.keys(r.functions).sort()).toEqual(
        ['consistencyCheck', 'forwardSync', 'legacyPoller', 'reverseSync', 'serviceCapture'].sort(),
      );
      expect(r.legacyAccess.environment[RUNTIME_ENV.legacySecretArn]).toBeDefined();
    }
  });
});
