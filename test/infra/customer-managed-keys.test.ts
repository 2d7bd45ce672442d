/**
 * Customer-managed keys as an option (issue 17, item 6): the constructs take `encryptionKey` /
 * `enableEncryptionWithCustomerManagedKey` (AWS Solutions Constructs style), and an environment
 * setting (`customerManagedKeys` in cdk.json) turns them on for every stack. With it on, every
 * queue, table, the bus, its archive and every log group reference the stack's key, whose policy
 * admits only the services that write with it; with it off, the defaults stay. The environment
 * with it on is synthesized with cdk-nag and the Control Tower controls (a finding throws).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../lib/app.js';
import { enableCustomerManagedKeys } from '../../lib/constructs/encryption.js';
import { MigrationTables } from '../../lib/constructs/migration-tables.js';
import { PlatformBus } from '../../lib/constructs/platform-bus.js';
import { encryptedQueue } from '../../lib/constructs/queues.js';
import { SyncChannel } from '../../lib/constructs/sync-channel.js';
import { cdkJsonContext } from '../../lib/stacks/settings.js';
import { magento } from '../../migrations/index.js';

type Resource = { Type: string; Properties?: Record<string, any> };
type Templates = Record<string, { Resources: Record<string, Resource> }>;

const noBundling = { 'aws:cdk:bundling-stacks': [] };
const environments = cdkJsonContext()['environments'] as Record<string, object>;

function synth(env: string, settings: object, nag: boolean): Templates {
  const built = buildApp({
    env,
    outdir: mkdtempSync(join(tmpdir(), `cutover-${env}-`)),
    context: { environments: { ...environments, [env]: settings }, ...noBundling },
    nag,
  });
  const assembly = built.app.synth();
  return Object.fromEntries(assembly.stacks.map((s) => [s.stackName, s.template as Templates[string]]));
}

function ofType(templates: Templates, type: string): [string, string, Resource][] {
  return Object.entries(templates).flatMap(([stack, t]) =>
    Object.entries(t.Resources)
      .filter(([, r]) => r.Type === type)
      .map(([id, r]) => [stack, id, r] as [string, string, Resource]),
  );
}

/** The logical id of the stack's data key (`DataKey…`). */
function dataKeyId(templates: Templates, stack: string): string {
  const ids = Object.entries(templates[stack]!.Resources)
    .filter(([id, r]) => r.Type === 'AWS::KMS::Key' && id.startsWith('DataKey'))
    .map(([id]) => id);
  expect(ids, `${stack}: one data key`).toHaveLength(1);
  return ids[0]!;
}

const arnOf = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });

let on: Templates;
let off: Templates;

beforeAll(() => {
  // prod's settings (365-day logs: every Control Tower control enabled) with the keys on.
  on = synth('cmk', { ...environments['prod'], customerManagedKeys: true }, true);
  off = synth('dev', environments['dev']!, false);
}, 600_000);

describe('App: customerManagedKeys on', () => {
  it('synthesizes deployable templates (no dependency cycle between a key and what it encrypts)', () => {
    for (const template of Object.values(on)) expect(() => Template.fromJSON(template)).not.toThrow();
  });

  it('encrypts every queue with the KMS key of its stack', () => {
    const queues = ofType(on, 'AWS::SQS::Queue');
    expect(queues.length).toBeGreaterThan(10);
    for (const [stack, id, q] of queues) {
      expect(q.Properties?.['KmsMasterKeyId'], `${stack}/${id}`).toEqual(arnOf(dataKeyId(on, stack)));
      expect(q.Properties?.['SqsManagedSseEnabled'], `${stack}/${id}`).toBeUndefined();
    }
  });

  it('encrypts every table, the bus and its archive with the platform stack key', () => {
    const platform = 'cutover-cmk-platform';
    const key = arnOf(dataKeyId(on, platform));
    const tables = ofType(on, 'AWS::DynamoDB::Table');
    expect(tables.length).toBeGreaterThan(3);
    for (const [stack, id, t] of tables) {
      expect(stack).toBe(platform);
      expect(t.Properties?.['SSESpecification'], id).toEqual({
        SSEEnabled: true,
        SSEType: 'KMS',
        KMSMasterKeyId: key,
      });
    }
    const [bus] = ofType(on, 'AWS::Events::EventBus');
    expect(bus![2].Properties?.['KmsKeyIdentifier']).toEqual(key);
    const [archive] = ofType(on, 'AWS::Events::Archive');
    expect(archive![2].Properties?.['KmsKeyIdentifier']).toEqual(key);
  });

  it('encrypts every log group with the key of its stack (no separate log key)', () => {
    const groups = ofType(on, 'AWS::Logs::LogGroup');
    expect(groups.length).toBeGreaterThan(10);
    for (const [stack, id, g] of groups) {
      expect(g.Properties?.['KmsKeyId'], `${stack}/${id}`).toEqual(arnOf(dataKeyId(on, stack)));
    }
    expect(ofType(on, 'AWS::KMS::Key').filter(([, id]) => id.startsWith('LogKey'))).toEqual([]);
  });

  it('lets only the services that write with the key use it: Logs, EventBridge of this account', () => {
    for (const stack of Object.keys(on)) {
      const key = on[stack]!.Resources[dataKeyId(on, stack)]!;
      const statements = key.Properties!['KeyPolicy'].Statement as Record<string, any>[];
      const services = statements.filter((s) => s.Principal?.Service);
      for (const s of services) {
        const service = JSON.stringify(s.Principal.Service);
        if (service.includes('events.amazonaws.com')) {
          expect(s.Action).not.toContain('kms:*');
          // aws-cdk-lib's archive statement: key metadata only, no use of the key.
          if (s.Action === 'kms:DescribeKey') continue;
          expect(s.Condition, `${stack} ${s.Sid}`).toBeDefined();
          expect(JSON.stringify(s.Condition)).toMatch(/aws:SourceAccount|aws:events:event-bus:arn/);
        } else if (service.includes('logs.')) {
          expect(s.Condition.ArnLike['kms:EncryptionContext:aws:logs:arn']).toBeDefined();
        } else {
          throw new Error(`${stack}: unexpected service in the key policy: ${service}`);
        }
      }
      // Service stacks: rule targets and their DLQs are under the key, so EventBridge needs it.
      const events = services.find((s) => s.Sid === 'EventBridgeDeliversToQueues');
      expect(events?.Action, stack).toEqual(['kms:GenerateDataKey', 'kms:Decrypt']);
      expect(events?.Condition).toEqual({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } });
      // CT.KMS.PR.3: grants only for AWS resources.
      expect(statements.some((s) => s.Sid === 'GrantsOnlyForAwsResources' && s.Effect === 'Deny')).toBe(true);
    }
  });

  it("grants the key's use to the roles that read the tables and the stream", () => {
    const stack = 'cutover-cmk-magento-customer';
    const policies = ofType({ [stack]: on[stack]! }, 'AWS::IAM::Policy');
    const kmsOnPlatformKey = (p: Resource) =>
      (p.Properties!['PolicyDocument'].Statement as Record<string, any>[]).filter(
        (s) =>
          JSON.stringify(s.Action).includes('kms:Decrypt') &&
          JSON.stringify(s.Resource).includes('Fn::ImportValue') &&
          JSON.stringify(s.Resource).includes('DataKey'),
      );
    const withKey = policies.filter(([, , p]) => kmsOnPlatformKey(p).length > 0).map(([, id]) => id);
    expect(withKey.some((id) => id.includes('ForwardSync'))).toBe(true);
    expect(withKey.some((id) => id.includes('Capture') && id.includes('Role'))).toBe(true);
  });
});

describe('App: customerManagedKeys off (the default)', () => {
  it('keeps SQS-managed queues, AWS-managed tables, the AWS-owned bus key and the stack log key', () => {
    for (const [stack, id, q] of ofType(off, 'AWS::SQS::Queue')) {
      expect(q.Properties?.['SqsManagedSseEnabled'], `${stack}/${id}`).toBe(true);
      expect(q.Properties?.['KmsMasterKeyId']).toBeUndefined();
    }
    for (const [, id, t] of ofType(off, 'AWS::DynamoDB::Table')) {
      expect(t.Properties?.['SSESpecification'], id).toEqual({ SSEEnabled: true });
    }
    const [bus] = ofType(off, 'AWS::Events::EventBus');
    expect(bus![2].Properties?.['KmsKeyIdentifier']).toBeUndefined();
    for (const [stack, id, g] of ofType(off, 'AWS::Logs::LogGroup')) {
      expect(JSON.stringify(g.Properties?.['KmsKeyId']), `${stack}/${id}`).toMatch(/"LogKey/);
    }
    expect(ofType(off, 'AWS::KMS::Key').filter(([, id]) => id.startsWith('DataKey'))).toEqual([]);
  });

  it('refuses a setting that is not true or false', () => {
    expect(() =>
      buildApp({
        env: 'dev',
        context: { environments: { dev: { ...environments['dev'], customerManagedKeys: 'yes' } } },
      }),
    ).toThrow('context.environments.dev.customerManagedKeys must be true or false');
  });
});

describe('Constructs: encryptionKey / enableEncryptionWithCustomerManagedKey', { timeout: 300_000 }, () => {
  const stack = () => new Stack(new App(), 'S', { env: { account: '111111111111', region: 'eu-west-1' } });
  const handler = (s: Stack) =>
    new lambda.Function(s, 'Fn', {
      runtime: lambda.Runtime.NODEJS_LATEST,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler = async () => {}'),
      timeout: Duration.seconds(30),
    });
  const channel = (s: Stack, props: object) =>
    new SyncChannel(s, 'Channel', {
      bus: new events.EventBus(s, 'Bus'),
      direction: 'forward',
      service: 'customer',
      source: 'cutover.legacy',
      detailTypes: ['migration.customer.changed'],
      handler: handler(s),
      consistency: 'strong',
      queueName: 'q',
      alarmNamePrefix: 'ops',
      ...props,
    });

  it('a given key encrypts the channel queues; the consumer may decrypt with it', () => {
    const s = stack();
    const key = new kms.Key(s, 'MyKey');
    channel(s, { encryptionKey: key });
    const t = Template.fromStack(s);
    const keyArn = { 'Fn::GetAtt': [s.getLogicalId(key.node.defaultChild as kms.CfnKey), 'Arn'] };
    t.resourceCountIs('AWS::SQS::Queue', 3);
    t.allResourcesProperties('AWS::SQS::Queue', { KmsMasterKeyId: keyArn });
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Action: 'kms:Decrypt', Resource: keyArn })]),
      },
    });
    t.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'EventBridgeDeliversToQueues',
            Principal: { Service: 'events.amazonaws.com' },
            Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
          }),
        ]),
      },
    });
  });

  it('enableEncryptionWithCustomerManagedKey creates the stack key; false keeps SQS-managed', () => {
    const s = stack();
    channel(s, { enableEncryptionWithCustomerManagedKey: true });
    const t = Template.fromStack(s);
    const keyId = Object.keys(t.findResources('AWS::KMS::Key'))[0]!;
    expect(keyId).toMatch(/^DataKey/);
    t.allResourcesProperties('AWS::SQS::Queue', { KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } });

    const s2 = stack();
    enableCustomerManagedKeys(s2);
    encryptedQueue(s2, 'Plain', { enableEncryptionWithCustomerManagedKey: false });
    Template.fromStack(s2).hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
  });

  it('the bus, its archive and the tables take the key the same way', () => {
    const s = stack();
    new PlatformBus(s, 'Bus', { busName: 'b', enableEncryptionWithCustomerManagedKey: true });
    new MigrationTables(s, 'Tables', {
      spec: magento,
      stage: 'dev',
      enableEncryptionWithCustomerManagedKey: true,
    });
    const t = Template.fromStack(s);
    const key = { 'Fn::GetAtt': [Object.keys(t.findResources('AWS::KMS::Key'))[0]!, 'Arn'] };
    t.hasResourceProperties('AWS::Events::EventBus', { KmsKeyIdentifier: key });
    t.hasResourceProperties('AWS::Events::Archive', { KmsKeyIdentifier: key });
    t.allResourcesProperties('AWS::DynamoDB::Table', {
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: key },
    });
    // The bus statement is scoped to this bus.
    t.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'events.amazonaws.com' },
            Condition: { StringEquals: Match.objectLike({ 'aws:SourceAccount': '111111111111' }) },
          }),
        ]),
      },
    });
  });
});

describe('App: the personal-data key (issue 17, item 3)', () => {
  const purpose = 'kms:EncryptionContext:cutover:purpose';
  /** Every KMS statement on the personal-data key, by the policy that holds it. */
  function keyStatements() {
    const out: { policy: string; action: string; purposes: string[] }[] = [];
    for (const [stack, id, p] of ofType(off, 'AWS::IAM::Policy')) {
      for (const s of p.Properties!['PolicyDocument'].Statement as Record<string, any>[]) {
        if (!JSON.stringify(s.Resource).includes('PersonalDataKey')) continue;
        const purposes = ([] as string[]).concat(s.Condition?.StringEquals?.[purpose] ?? []);
        for (const action of ([] as string[]).concat(s.Action))
          out.push({ policy: `${stack}/${id}`, action, purposes });
      }
    }
    return out;
  }

  it('seals with a key of the migration; only the conflict resolver may open conflicts', () => {
    expect(ofType(off, 'AWS::KMS::Key').filter(([, id]) => id.includes('PersonalDataKey'))).toHaveLength(1);
    const statements = keyStatements();
    // Every use of the key names its purposes (no unconditioned use).
    for (const s of statements) expect(s.purposes.length, s.policy).toBeGreaterThan(0);
    const opensConflicts = statements.filter(
      (s) => s.action === 'kms:Decrypt' && s.purposes.includes('conflicts'),
    );
    expect(opensConflicts.map((s) => s.policy)).toEqual([expect.stringContaining('ConflictResolverRole')]);
    const syncOpens = statements.filter(
      (s) => s.policy.includes('ForwardSync') && s.policy.includes('customer') && s.action === 'kms:Decrypt',
    );
    expect(syncOpens.map((s) => s.purposes)).toEqual([['sync-state']]);
    const syncSeals = statements.filter(
      (s) =>
        s.policy.includes('ForwardSync') &&
        s.policy.includes('customer') &&
        s.action === 'kms:GenerateDataKey',
    );
    expect(syncSeals.map((s) => s.purposes)).toEqual([['sync-state', 'conflicts']]);
  });

  it('tells the functions that use the sync state which key seals it', () => {
    const fns = ofType(off, 'AWS::Lambda::Function').filter(([, id]) => /ForwardSync|ReverseSync/.test(id));
    expect(fns.length).toBeGreaterThan(0);
    for (const [stack, id, f] of fns) {
      const env = f.Properties!['Environment'].Variables as Record<string, unknown>;
      if (!stack.includes('magento')) continue; // menu has no personal fields
      expect(JSON.stringify(env['CUTOVER_PERSONAL_DATA_KEY_ARN']), `${stack}/${id}`).toContain(
        'PersonalDataKey',
      );
    }
  });
});
