/**
 * The stack outputs an operator and the `cutover` CLI look up (lib/spec/outputs.ts): every key
 * present, none exported, every queue with its kind, the kind matching how the template wires
 * the queue.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../lib/app.js';
import {
  PLATFORM_OUTPUT,
  platformStackName,
  QUEUE_OUTPUT_PREFIX,
  type QueueOutput,
  SERVICE_OUTPUT,
  serviceStackName,
} from '../../lib/spec/outputs.js';
import { RUNTIME_ENV } from '../../lib/spec/runtime.js';
import { migrations } from '../../migrations/index.js';

type Output = { Value: unknown; Description?: string; Export?: unknown };
type Template = {
  Resources: Record<string, { Type: string; Properties?: Record<string, any> }>;
  Outputs?: Record<string, Output>;
};

let templates: Record<string, Template>;

beforeAll(() => {
  const { app } = buildApp({
    env: 'dev',
    outdir: mkdtempSync(join(tmpdir(), 'cutover-outputs-')),
    context: { 'aws:cdk:bundling-stacks': [] },
    nag: false,
  });
  const assembly = app.synth();
  templates = Object.fromEntries(assembly.stacks.map((s) => [s.stackName, s.template as Template]));
});

/** An output value as text, each intrinsic replaced by `<ref>` (enough to read the JSON around it). */
function text(value: unknown): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (join) return join[1].map((p) => (typeof p === 'string' ? p : '<ref>')).join(join[0]);
  return '<ref>';
}

function queueOutputs(t: Template): QueueOutput[] {
  return Object.entries(t.Outputs ?? {})
    .filter(([k]) => k.startsWith(QUEUE_OUTPUT_PREFIX))
    .map(([, o]) => JSON.parse(text(o.Value)) as QueueOutput);
}

/** Queue name by logical id, and which queue (by name) names each as its DLQ. */
function queues(t: Template): { byId: Record<string, string>; sourceOf: Record<string, string> } {
  const byId: Record<string, string> = {};
  for (const [id, r] of Object.entries(t.Resources)) {
    if (r.Type === 'AWS::SQS::Queue') byId[id] = r.Properties!['QueueName'];
  }
  const sourceOf: Record<string, string> = {};
  for (const r of Object.values(t.Resources)) {
    const target = r.Type === 'AWS::SQS::Queue' && r.Properties?.['RedrivePolicy']?.deadLetterTargetArn;
    if (target) sourceOf[byId[target['Fn::GetAtt'][0]]!] = r.Properties!['QueueName'];
  }
  return { byId, sourceOf };
}

describe('Stack outputs', () => {
  it('the platform stack names the bus, its archive, and per migration the gateway, flags, tables and dashboard', () => {
    const t = templates[platformStackName('dev')]!;
    const keys = Object.keys(t.Outputs ?? {});
    expect(keys).toContain(PLATFORM_OUTPUT.busName);
    expect(keys).toContain(PLATFORM_OUTPUT.busArchiveName);
    expect(keys).toContain(PLATFORM_OUTPUT.alarmTopicArn);
    const archive = Object.values(t.Resources).find((r) => r.Type === 'AWS::Events::Archive')!;
    expect(archive.Properties!['ArchiveName']).toBe('cutover-dev-archive');
    expect(t.Outputs![PLATFORM_OUTPUT.busArchiveName]!.Value).toBe('cutover-dev-archive');
    for (const m of migrations) {
      for (const key of [
        PLATFORM_OUTPUT.gatewayUrl(m.name),
        PLATFORM_OUTPUT.appConfigApplicationId(m.name),
        PLATFORM_OUTPUT.appConfigEnvironmentId(m.name),
        PLATFORM_OUTPUT.appConfigProfileId(m.name),
        PLATFORM_OUTPUT.gradualStrategyId(m.name),
        PLATFORM_OUTPUT.rollbackStrategyId(m.name),
        PLATFORM_OUTPUT.conflictsTable(m.name),
        PLATFORM_OUTPUT.syncStateTable(m.name),
        PLATFORM_OUTPUT.dashboardUrl(m.name),
      ]) {
        expect(keys, key).toContain(key);
      }
      expect(text(t.Outputs![PLATFORM_OUTPUT.dashboardUrl(m.name)]!.Value)).toContain(
        `#dashboards:name=cutover-dev-${m.name}`,
      );
      // The AppConfig ids are the resources' own references, not copies of a name.
      const appRef = t.Outputs![PLATFORM_OUTPUT.appConfigApplicationId(m.name)]!.Value as { Ref: string };
      expect(t.Resources[appRef.Ref]!.Type).toBe('AWS::AppConfig::Application');
      const strategy = t.Outputs![PLATFORM_OUTPUT.rollbackStrategyId(m.name)]!.Value as { Ref: string };
      expect(t.Resources[strategy.Ref]!.Properties!['FinalBakeTimeInMinutes']).toBe(0);
    }
  });

  it('each service stack names its rollout and validation state machines and its service tables', () => {
    for (const m of migrations) {
      for (const s of m.services) {
        const t = templates[serviceStackName('dev', m.name, s.name)]!;
        for (const [key, name] of [
          [SERVICE_OUTPUT.rolloutStateMachineArn, `cutover-dev-${m.name}-${s.name}-rollout`],
          [SERVICE_OUTPUT.validationStateMachineArn, `cutover-dev-${m.name}-${s.name}-reconciliation`],
        ] as const) {
          const ref = (t.Outputs![key]!.Value as { Ref: string }).Ref;
          expect(t.Resources[ref]!.Properties!['StateMachineName']).toBe(name);
        }
        for (const e of s.entities)
          expect(Object.keys(t.Outputs!)).toContain(SERVICE_OUTPUT.serviceTable(e.name));
      }
    }
  });

  it("each service stack names full validation's bucket: the one its validation workers write reports to", () => {
    for (const m of migrations) {
      for (const s of m.services) {
        const t = templates[serviceStackName('dev', m.name, s.name)]!;
        const ref = (t.Outputs![SERVICE_OUTPUT.validationBucketName]!.Value as { Ref: string }).Ref;
        expect(t.Resources[ref]!.Type).toBe('AWS::S3::Bucket');
        const writers = Object.values(t.Resources).filter(
          (r) =>
            r.Type === 'AWS::Lambda::Function' &&
            (r.Properties?.['Environment'] as { Variables?: Record<string, unknown> } | undefined)
              ?.Variables?.[RUNTIME_ENV.validationBucket] !== undefined,
        );
        expect(writers.length).toBeGreaterThan(0);
        for (const w of writers)
          expect(
            (w.Properties!['Environment'] as { Variables: Record<string, unknown> }).Variables[
              RUNTIME_ENV.validationBucket
            ],
          ).toEqual({ Ref: ref });
      }
    }
  });

  it('every queue of every stack has one output with its kind, and the kind matches the wiring', () => {
    let seen = 0;
    for (const t of Object.values(templates)) {
      const { byId, sourceOf } = queues(t);
      const outs = queueOutputs(t);
      expect(outs.map((o) => o.name).sort()).toEqual(Object.values(byId).sort());
      for (const o of outs) {
        seen++;
        const source = sourceOf[o.name];
        if (o.kind === 'source-dlq') expect(o.source, o.name).toBe(source);
        else expect(source, `${o.name} is the DLQ of ${source}: kind source-dlq`).toBeUndefined();
        if (o.kind === 'sync') expect(o.name.endsWith('-dlq')).toBe(false);
        else expect(o.name.endsWith('-dlq')).toBe(true);
        if (o.kind === 'capture-dlq')
          expect(o.name).toContain(`-capture-${o.entity!.replace(/_/g, '-')}-dlq`);
        if (o.kind === 'rule-target-dlq') expect(o.name).toMatch(/-targets-dlq$/);
      }
    }
    expect(seen).toBeGreaterThan(10);
  });

  it('exports none of them (an export would tie the stacks together)', () => {
    let n = 0;
    for (const t of Object.values(templates)) {
      // CDK's own cross-stack references (`ExportsOutput…`) are the only exports.
      for (const [key, o] of Object.entries(t.Outputs ?? {})) {
        if (key.startsWith('ExportsOutput')) continue;
        n++;
        expect(o.Export, key).toBeUndefined();
      }
    }
    expect(n).toBeGreaterThan(20);
  });
});
