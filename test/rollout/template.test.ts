/**
 * The rollout state machines in the synthesized templates: one per service, logging of every
 * event (encrypted) and X-Ray, the structure the spec asks for, least-privilege IAM and cdk-nag.
 */

import { Duration } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { rolloutPlan } from '../../lambdas/domain/rollout.js';
import { awaitDeploymentMaxPolls, rolloutTimeout } from '../../lib/constructs/rollout-state-machine.js';
import { allStates, type CfnTemplate } from '../../lib/rehearse/cfn.js';
import magento from '../../migrations/magento.js';
import menu from '../../migrations/menu.js';
import { type SynthesizedRollout, synthesizeRollouts } from '../support/rollout-harness.js';

let rollouts: SynthesizedRollout[];
beforeAll(() => {
  // With the AwsSolutions checks: synthesis throws on any unacknowledged finding.
  rollouts = [
    ...Object.values(synthesizeRollouts(magento, { nag: true })),
    ...Object.values(synthesizeRollouts(menu, { nag: true })),
  ];
}); // The project's hookTimeout (300 s): synthesis alone takes 30 s, minutes on a loaded machine.

const resources = (t: CfnTemplate, type: string) =>
  Object.entries(t.Resources).filter(([, r]) => r.Type === type);
const byName = (r: SynthesizedRollout) => Object.fromEntries(allStates(r.definition));

describe('Construct: RolloutStateMachine', () => {
  it('synthesizes one state machine per service of the bundled migrations (four), each with its deterministic name', () => {
    expect(rollouts.map((r) => r.stateMachineName)).toEqual([
      'cutover-test-magento-customer-rollout',
      'cutover-test-magento-catalog-rollout',
      'cutover-test-magento-order-rollout',
      'cutover-test-menu-menu-rollout',
    ]);
    for (const r of rollouts) {
      const machines = resources(r.template, 'AWS::StepFunctions::StateMachine');
      expect(machines).toHaveLength(1);
      expect(machines[0]![1].Properties!['StateMachineName']).toBe(r.stateMachineName);
    }
  });

  it('logs every event with execution data to a KMS-encrypted log group, and traces with X-Ray', () => {
    for (const r of rollouts) {
      const [, sm] = resources(r.template, 'AWS::StepFunctions::StateMachine')[0]!;
      const p = sm.Properties as Record<string, Record<string, unknown>>;
      expect(p['TracingConfiguration']).toEqual({ Enabled: true });
      expect(p['LoggingConfiguration']).toMatchObject({ Level: 'ALL', IncludeExecutionData: true });
      const logGroupId = JSON.stringify(p['LoggingConfiguration']).match(
        /"(RolloutExecutionLogs[A-Z0-9]+)"/,
      )![1]!;
      expect(r.template.Resources[logGroupId]!.Properties!['KmsKeyId']).toBeDefined();
    }
  });

  it('renders the spec: bake waits, canary steps, the backfill Distributed Map and approvals with their timeout', () => {
    const customer = byName(rollouts[0]!);
    expect(customer['ShadowBake']!['Seconds']).toBe(30 * 60);
    expect(customer['Canary10Bake']!['Seconds']).toBe(1440 * 60);
    expect(Object.keys(customer).filter((n) => /^Canary\d+SetFlags$/.test(n))).toEqual([
      'Canary10SetFlags',
      'Canary25SetFlags',
      'Canary50SetFlags',
      'Canary75SetFlags',
      'Canary100SetFlags',
    ]);
    expect(customer['Canary25SetFlags']!.Parameters!['flags']).toEqual({
      read: { enabled: true, percentage: 25 },
      write: { enabled: true, mode: 'shadow' },
    });
    expect(customer['Canary25Gate']!.Parameters!['gate']).toEqual({
      id: 'canary-25',
      checks: [
        { check: 'errorRate', comparator: 'below', threshold: 0.001 },
        { check: 'p95LatencyMs', comparator: 'below', threshold: 200 },
        { check: 'dlqDepth', comparator: 'atMost', threshold: 0 },
      ],
    });
    const backfill = customer['Backfill']!;
    expect(backfill['MaxConcurrency']).toBe(magento.services[0]!.rollout.backfillConcurrency);
    expect((backfill['ItemProcessor'] as unknown as { ProcessorConfig: unknown }).ProcessorConfig).toEqual({
      Mode: 'DISTRIBUTED',
      ExecutionType: 'STANDARD',
    });
    expect(customer['ApproveCutover']).toBeUndefined(); // customer: no approval before cutover
    const order = byName(rollouts[2]!);
    for (const name of ['ApproveCutover', 'ApproveDecommission']) {
      expect(order[name]!.Resource).toBe('arn:aws:states:::lambda:invoke.waitForTaskToken');
      expect(order[name]!['TimeoutSeconds']).toBe(72 * 3600);
      expect((order[name]!.Parameters!['Payload'] as Record<string, unknown>)['taskToken.$']).toBe(
        '$$.Task.Token',
      );
    }
  });

  it('validates phase 1 with two Distributed Maps reading their work lists from S3, bounded by the spec', () => {
    const states = byName(rollouts[0]!);
    const next = (n: string) => states[n]!['Next'];
    expect(
      ['Backfill', 'ValidatePlan', 'ValidateScan', 'ValidatePlanCompare', 'ValidateCompare'].map(next),
    ).toEqual(['ValidatePlan', 'ValidateScan', 'ValidatePlanCompare', 'ValidateCompare', 'ValidateReport']);
    expect(next('ValidateReport')).toBe('ReadOnlyValidated');
    expect(states['ValidatePlan']!.Parameters).toMatchObject({
      step: 'plan',
      rowsPerWorker: magento.sync.validationRowsPerWorker,
      chunkSize: magento.sync.validationChunkSize,
    });
    expect(states['ValidateReport']!.Parameters!['failOnMismatch']).toBe(true);
    for (const [map, key, worker] of [
      ['ValidateScan', '$.validationPlan.scan.bucketKey', 'ValidateScanPart'],
      ['ValidateCompare', '$.validationCompare.compare.bucketKey', 'ValidateCompareGroup'],
    ] as const) {
      const s = states[map]!;
      expect(s.Type).toBe('Map');
      expect(s['MaxConcurrency']).toBe(magento.sync.validationConcurrency);
      expect(s['ItemReader']).toMatchObject({
        Resource: 'arn:aws:states:::s3:getObject',
        ReaderConfig: { InputType: 'JSON' },
        Parameters: { 'Key.$': key },
      });
      const processor = s.ItemProcessor as unknown as { ProcessorConfig: unknown; StartAt: string };
      expect(processor.ProcessorConfig).toEqual({ Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' });
      expect(processor.StartAt).toBe(worker);
    }
  });

  it('bounds every execution and every AwaitDeployment loop, sized from the spec (bakes, extensions, approvals, data phase)', () => {
    const specs = [...magento.services, ...menu.services];
    for (const r of rollouts) {
      const plan = rolloutPlan(specs.find((s) => s.name === r.service)!);
      const expected = rolloutTimeout(plan, {
        deploymentTime: Duration.minutes(12),
        dataPhase: Duration.hours(24),
      });
      expect(r.definition['TimeoutSeconds']).toBe(expected.toSeconds());
      // More than the approvals and bakes alone (canary 10 % bakes a day), less than AWS's one year.
      const bakes = plan.steps.reduce((n, s) => n + s.bakeSeconds, 0);
      expect(expected.toSeconds()).toBeGreaterThan(bakes + 2 * plan.approvalTimeoutSeconds);
      expect(expected.toSeconds()).toBeLessThan(365 * 86_400);
      const awaits = allStates(r.definition).filter(([n]) => n.endsWith('AwaitDeployment'));
      expect(awaits.length).toBe(plan.steps.length);
      for (const [, state] of awaits) {
        const payload = state['Parameters'] as Record<string, unknown>;
        // 2 × (2 min deployment + 10 min bake) / 15 s polls + 4
        expect(payload['maxPolls']).toBe(awaitDeploymentMaxPolls(Duration.minutes(12), Duration.seconds(15)));
        expect(payload['maxPolls']).toBe(100);
      }
    }
  });

  it('catches every failure of every task after the start into Rollback, which ends in a Fail with the cause', () => {
    for (const r of rollouts) {
      const states = byName(r);
      const tasks = Object.entries(states).filter(
        ([name, s]) =>
          (s.Type === 'Task' || s.Type === 'Map') &&
          !['Start', 'Rollback', 'BackfillChunk', 'ValidateScanPart', 'ValidateCompareGroup'].includes(name),
      );
      expect(tasks.length).toBeGreaterThan(10);
      for (const [name, s] of tasks) {
        const catchers = (s['Catch'] as Array<{ ErrorEquals: string[]; Next: string }>) ?? [];
        const all = catchers.find((c) => c.ErrorEquals.includes('States.ALL'));
        expect(all?.Next, name).toBe('Rollback');
      }
      expect(states['Rollback']!['Next']).toBe('RolledBack');
      expect(states['RolledBack']).toMatchObject({ Type: 'Fail', CausePath: '$.rollback.cause' });
      // A refused start changed nothing: it fails without a rollback.
      expect((states['Start']!['Catch'] as Array<{ Next: string }>)[0]!.Next).toBe('NotStarted');
    }
  });

  it('grants no wildcard actions; ListExecutions only on its own and the previous service’s state machine', () => {
    for (const r of rollouts) {
      for (const [id, k] of resources(r.template, 'AWS::KMS::Key')) {
        const statements = (k.Properties!['KeyPolicy'] as { Statement: Array<{ Action: string | string[] }> })
          .Statement;
        // The account-root statement (`kms:*`) is the AWS default that hands access control to IAM.
        for (const st of statements.filter((x) => x.Action !== 'kms:*')) {
          for (const action of [st.Action].flat()) expect(action, `${id}: ${action}`).not.toContain('*');
        }
      }
      for (const [id, p] of resources(r.template, 'AWS::IAM::Policy')) {
        const statements = (
          p.Properties!['PolicyDocument'] as { Statement: Array<{ Action: string | string[] }> }
        ).Statement;
        for (const st of statements) {
          for (const action of [st.Action].flat()) expect(action, `${id}: ${action}`).not.toContain('*');
        }
      }
    }
    const catalog = JSON.stringify(
      resources(rollouts[1]!.template, 'AWS::IAM::Policy').find(([id]) =>
        id.startsWith('RolloutStartFunctionRole'),
      )![1],
    );
    expect(catalog).toContain('states:ListExecutions');
    expect(catalog).toContain('stateMachine:cutover-test-magento-catalog-rollout');
    expect(catalog).toContain('stateMachine:cutover-test-magento-customer-rollout');
    expect(catalog).not.toContain('stateMachine:cutover-test-magento-order-rollout');
  });

  it('archives into a retained, versioned, TLS-only bucket whose access is logged; the archive Lambda may only PutObject under its prefix', () => {
    const t = rollouts[0]!.template;
    const buckets = resources(t, 'AWS::S3::Bucket');
    const archive = buckets.find(([id]) => id.startsWith('RolloutDecommissionStoreBucket'))![1];
    expect(archive.Properties).toMatchObject({
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, RestrictPublicBuckets: true },
      LoggingConfiguration: { LogFilePrefix: 'archive/' },
    });
    expect((archive as unknown as { DeletionPolicy: string }).DeletionPolicy).toBe('Retain');
    const policy = JSON.stringify(
      resources(t, 'AWS::IAM::Policy').find(([id]) => id.startsWith('RolloutArchiveFunctionRole'))![1],
    );
    expect(policy).toContain('"s3:PutObject"');
    expect(policy).toContain('/magento/customer/*');
    expect(policy).not.toMatch(/s3:(GetObject|DeleteObject)/);
  });

  it('passes the AwsSolutions checks with every wildcard resource acknowledged by reason', () => {
    // beforeAll synthesized with the checks on; reaching here means no unacknowledged finding.
    expect(rollouts).toHaveLength(4);
  });

  it('rejects a service that is not in the spec', async () => {
    const { App, Stack } = await import('aws-cdk-lib');
    const { RolloutStateMachine } = await import('../../lib/constructs/rollout-state-machine.js');
    const stack = new Stack(new App(), 'S');
    const fake = {
      environmentArn: 'arn:env',
      profileArn: 'arn:profile',
      runtimeEnvironment: () => ({}),
      grantDeploy: () => undefined as never,
    };
    expect(
      () =>
        new RolloutStateMachine(stack, 'R', {
          spec: magento,
          service: { ...magento.services[0]!, name: 'billing' },
          stage: 'test',
          flags: fake,
          tables: { runtimeEnvironment: () => ({}), grantSync: () => {}, grantRead: () => {} },
          bus: { eventBusName: 'b' } as never,
        }),
    ).toThrow('no service "billing" in migration "magento"');
  });
});
