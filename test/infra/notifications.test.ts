/**
 * The optional `notifications` setting: prod (cdk.json sets it) gets an encrypted topic with
 * the email subscription, the rules with their messages, and the DLQ alarms notify it; dev
 * (no setting) gets none of it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../lib/app.js';
import { PLATFORM_OUTPUT, platformStackName } from '../../lib/spec/outputs.js';
import { EnvironmentSettingsError, environmentSettings } from '../../lib/stacks/settings.js';
import { migrations } from '../../migrations/index.js';

type Resource = { Type: string; Properties: Record<string, any> };
type Template = { Resources: Record<string, Resource>; Outputs?: Record<string, unknown> };

const synth = (env: string): Record<string, Template> => {
  const { app } = buildApp({
    env,
    outdir: mkdtempSync(join(tmpdir(), `cutover-notify-${env}-`)),
    context: { 'aws:cdk:bundling-stacks': [] },
    nag: false,
  });
  return Object.fromEntries(app.synth().stacks.map((s) => [s.stackName, s.template as Template]));
};

let prod: Record<string, Template>;
let dev: Record<string, Template>;
beforeAll(() => {
  prod = synth('prod');
  dev = synth('dev');
});

const of = (t: Template, type: string) => Object.entries(t.Resources).filter(([, r]) => r.Type === type);
/** An input template as text (tokens of the stack inlined as <ref>). */
const text = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

describe('Notifications', () => {
  it('prod: one KMS-encrypted, TLS-only topic with the email subscription and its ARN as an output', () => {
    const t = prod[platformStackName('prod')]!;
    const topics = of(t, 'AWS::SNS::Topic').filter(
      ([, r]) => r.Properties['TopicName'] === 'cutover-prod-notifications',
    );
    expect(topics).toHaveLength(1);
    const [id, topic] = topics[0]!;
    expect(topic.Properties['KmsMasterKeyId']).toBeTruthy();
    const policy = of(t, 'AWS::SNS::TopicPolicy').find(([, r]) =>
      JSON.stringify(r.Properties['Topics']).includes(id),
    );
    expect(JSON.stringify(policy![1].Properties)).toContain('aws:SecureTransport');
    const subs = of(t, 'AWS::SNS::Subscription').filter(([, r]) =>
      JSON.stringify(r.Properties['TopicArn']).includes(id),
    );
    expect(subs.map(([, r]) => [r.Properties['Protocol'], r.Properties['Endpoint']])).toEqual([
      ['email', 'cutover-oncall@example.com'],
    ]);
    expect(
      (t.Outputs as Record<string, { Value: { Ref: string } }>)[PLATFORM_OUTPUT.notificationTopicArn]!.Value
        .Ref,
    ).toBe(id);
  });

  it('rules: the approval message carries the approve command and the deadline; conflicts per migration; failed rollouts from the default bus', () => {
    const t = prod[platformStackName('prod')]!;
    const rules = of(t, 'AWS::Events::Rule').filter(([, r]) =>
      (r.Properties['Targets'] ?? []).some((x: { Arn: unknown }) =>
        JSON.stringify(x.Arn).includes('NotificationsTopic'),
      ),
    );
    const byDetail = (dt: string) =>
      rules.find(([, r]) => JSON.stringify(r.Properties['EventPattern']).includes(dt));
    const approval = byDetail('cutover.approval.requested')![1];
    const tx = approval.Properties['Targets'][0].InputTransformer;
    expect(tx.InputPathsMap).toMatchObject({
      'detail-service': '$.detail.service',
      'detail-expiresAt': '$.detail.expiresAt',
    });
    expect(text(tx.InputTemplate)).toContain(
      'npx cutover approve <detail-service> --env prod --migration <detail-migration> --by',
    );
    expect(text(tx.InputTemplate)).toContain('until <detail-expiresAt>');
    expect(approval.Properties['Targets'][0].DeadLetterConfig).toBeTruthy();
    expect(byDetail('cutover.rollback')).toBeTruthy();
    for (const m of migrations) {
      const entities = m.services.flatMap((s) => s.entities.map((e) => e.name));
      const rule = rules.find(
        ([, r]) =>
          JSON.stringify(r.Properties['EventPattern']).includes('cutover.conflict.parked') &&
          JSON.stringify(r.Properties['EventPattern']['detail']['entity'].sort()) ===
            JSON.stringify([...entities].sort()),
      );
      expect(rule, m.name).toBeTruthy();
      expect(text(rule![1].Properties['Targets'][0].InputTransformer.InputTemplate)).toContain(
        `--migration ${m.name}`,
      );
    }
    const failed = byDetail('Step Functions Execution Status Change')![1];
    expect(failed.Properties['EventBusName']).toBeUndefined(); // the default bus
    expect(failed.Properties['EventPattern'].detail).toEqual({
      status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
      stateMachineArn: [{ wildcard: 'arn:*:states:*:*:stateMachine:cutover-prod-*-rollout' }],
    });
  });

  it('DLQ alarms notify the people as well as the alarm topic; other alarms only the alarm topic', () => {
    let dlq = 0;
    let other = 0;
    for (const t of Object.values(prod)) {
      for (const [, a] of of(t, 'AWS::CloudWatch::Alarm')) {
        const actions = JSON.stringify(a.Properties['AlarmActions'] ?? []);
        const isDlq =
          a.Properties['MetricName'] === 'ApproximateNumberOfMessagesVisible' &&
          a.Properties['Namespace'] === 'AWS/SQS';
        if (isDlq) {
          dlq++;
          expect(actions, a.Properties['AlarmName']).toContain('NotificationsTopic');
        } else {
          other++;
          expect(actions, a.Properties['AlarmName']).not.toContain('NotificationsTopic');
        }
        expect(actions).toContain('AlarmTopic');
      }
    }
    expect(dlq).toBeGreaterThan(5);
    expect(other).toBeGreaterThan(5);
  });

  it('dev (no setting): no topic, no rules', () => {
    const t = dev[platformStackName('dev')]!;
    expect(
      of(t, 'AWS::SNS::Topic').filter(([, r]) =>
        String(r.Properties['TopicName']).endsWith('-notifications'),
      ),
    ).toEqual([]);
    expect(t.Outputs?.[PLATFORM_OUTPUT.notificationTopicArn]).toBeUndefined();
  });

  it('a bad setting names the field', () => {
    const base = { logRetentionDays: 14, archiveRetentionDays: 7 };
    expect(() =>
      environmentSettings({ qa: { ...base, notifications: { emails: ['not-an-address'] } } }, 'qa'),
    ).toThrow(
      new EnvironmentSettingsError(
        'context.environments.qa.notifications.emails must be a list of email addresses',
      ),
    );
    expect(() => environmentSettings({ qa: { ...base, notifications: 'ops@example.com' } }, 'qa')).toThrow(
      /notifications must be an object/,
    );
  });
});
