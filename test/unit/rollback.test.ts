import { App, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as logs from 'aws-cdk-lib/aws-logs';
import { describe, expect, it, vi } from 'vitest';
import { systemAmbient } from '../../lambdas/adapters/system-clock.js';
import {
  type FeatureFlagsDocument,
  type FlagDeployment,
  INITIAL_SERVICE_FLAGS,
  initialFlags,
  type ServiceFlags,
  serviceFlagsOf,
  toFeatureFlagsDocument,
  withServiceFlags,
} from '../../lambdas/domain/flags.js';
import {
  type AlarmStateChange,
  decideRollback,
  parseAlarmEvent,
  ROLLBACK_EVENT,
  ROLLBACK_REFUSED_EVENT,
  RollbackError,
  RollbackRefusedError,
  rollBackService,
  serviceOfAlarm,
} from '../../lambdas/domain/rollback.js';
import { handleAlarm, logger } from '../../lambdas/handlers/rollback.js';
import { MigrationDashboard } from '../../lib/constructs/migration-dashboard.js';
import { rollbackAlarmName, rollbackAlarmPrefix } from '../../lib/spec/names.js';
import { magento } from '../../migrations/index.js';
import { compositeAlarmEvent } from '../support/contracts.js';
import { FakeAppConfig } from '../support/fake-appconfig.js';
import { InMemoryPublisher } from '../support/in-memory-publisher.js';

const flags = (percentage: number, mode: ServiceFlags['write']['mode'] = 'shadow'): ServiceFlags => ({
  read: { enabled: percentage > 0, percentage },
  write: { enabled: mode !== 'legacy', mode },
});

const T0 = Date.parse('2026-11-25T10:00:00.000Z');
const alarm: AlarmStateChange = {
  alarmName: rollbackAlarmName('prod', 'magento', 'catalog'),
  state: 'ALARM',
  changedAt: new Date(T0).toISOString(),
};

/** A fake whose deployments complete at once, with the given flag steps of `catalog` deployed. */
async function deployedSteps(steps: ServiceFlags[], clock: { t: number }) {
  const initial = toFeatureFlagsDocument(magento, initialFlags(magento));
  const port = new FakeAppConfig(initial, { autoComplete: true, now: () => clock.t });
  let doc: FeatureFlagsDocument = initial;
  for (const s of steps) {
    doc = withServiceFlags(doc, 'catalog', s);
    await port.startDeployment(await port.createVersion(doc), 'gradual');
  }
  return port;
}

/** Deploys `n` changes of the other services (customer and order toggling), catalog untouched. */
async function otherServicesDeploy(port: FakeAppConfig, n: number) {
  for (let i = 0; i < n; i++) {
    const service = i % 2 ? 'customer' : 'order';
    const doc = withServiceFlags(port.deployed(), service, flags((i % 9) + 1));
    await port.startDeployment(await port.createVersion(doc), 'gradual');
  }
}

/** Sleeps on the virtual clock; AppConfig moves deployments in progress on meanwhile. */
const virtualSleep = (port: FakeAppConfig, clock: { t: number }) => async (ms: number) => {
  clock.t += ms;
  const running = port.deployments.find((d) => d.state === 'DEPLOYING' || d.state === 'BAKING');
  if (running) port.advance(running.id);
};

function record(
  id: string,
  state: FlagDeployment['state'],
  f: ServiceFlags,
  strategy: 'gradual' | 'rollback' = 'gradual',
) {
  return {
    deployment: { id, version: Number(id), state, strategy, startedAt: new Date(T0).toISOString() },
    flags: f,
  };
}

describe('Domain: rollback decision', () => {
  it('returns to the flags in effect before the newest change of the service', () => {
    const d = decideRollback([record('3', 'COMPLETE', flags(50)), record('2', 'COMPLETE', flags(25))], {
      complete: false,
    });
    expect(d).toMatchObject({ action: 'deploy', safe: flags(25), current: flags(50), suspect: '3' });
  });

  it('skips deployments that changed other services only', () => {
    // 4 changed another service (catalog flags equal to 3's); 3 is the suspect.
    const d = decideRollback(
      [
        record('4', 'COMPLETE', flags(50)),
        record('3', 'COMPLETE', flags(50)),
        record('2', 'COMPLETE', flags(25)),
      ],
      { complete: false },
    );
    expect(d).toMatchObject({ action: 'deploy', safe: flags(25), suspect: '3' });
  });

  it('does nothing twice: after a rollback deployment the service is already safe', () => {
    const d = decideRollback(
      [
        record('4', 'COMPLETE', flags(25), 'rollback'),
        record('3', 'COMPLETE', flags(50)),
        record('2', 'COMPLETE', flags(25)),
      ],
      { complete: false },
    );
    expect(d).toMatchObject({ action: 'none', safe: flags(25) });
  });

  it('a stopped change (ROLLED_BACK) is already undone: nothing to deploy', () => {
    const d = decideRollback([record('3', 'ROLLED_BACK', flags(50)), record('2', 'COMPLETE', flags(25))], {
      complete: false,
    });
    expect(d).toMatchObject({ action: 'none', safe: flags(25) });
  });

  it('the first deployment of a complete history had 0 % / legacy before it', () => {
    const d = decideRollback([record('1', 'COMPLETE', flags(100, 'primary'), 'other' as never)], {
      complete: true,
    });
    expect(d).toMatchObject({ action: 'deploy', safe: INITIAL_SERVICE_FLAGS });
  });

  it('does not guess from a partial history: what came before it is unknown', () => {
    // The newest 2 of a longer history, neither changed catalog: its last change is older.
    const partial = [
      record('42', 'COMPLETE', flags(100, 'primary')),
      record('41', 'COMPLETE', flags(100, 'primary')),
    ];
    expect(decideRollback(partial, { complete: false })).toMatchObject({ action: 'undetermined' });
    expect(
      decideRollback([record('42', 'COMPLETE', flags(100, 'primary'))], { complete: false }),
    ).toMatchObject({
      action: 'undetermined',
      reason: expect.stringContaining('before deployment 42'),
    });
  });
});

describe('Domain: alarm events', () => {
  it('reads a CloudWatch Alarm State Change and finds the service by exact name', () => {
    const a = parseAlarmEvent({
      'detail-type': 'CloudWatch Alarm State Change',
      source: 'aws.cloudwatch',
      time: '2026-11-25T10:00:05Z',
      detail: { alarmName: 'x', state: { value: 'ALARM', timestamp: '2026-11-25T10:00:00.000+0000' } },
    });
    expect(a).toMatchObject({ alarmName: 'x', state: 'ALARM', changedAt: '2026-11-25T10:00:00.000Z' });
    const prefix = rollbackAlarmPrefix('prod', 'magento');
    expect(serviceOfAlarm(`${prefix}order`, prefix, ['order', 'order_items'])).toBe('order');
    expect(serviceOfAlarm(`${prefix}order_items`, prefix, ['order', 'order_items'])).toBe('order_items');
    expect(serviceOfAlarm(`${prefix}orders`, prefix, ['order'])).toBeUndefined();
    expect(serviceOfAlarm('cutover-dev-magento-rollback-order', prefix, ['order'])).toBeUndefined();
    expect(() => parseAlarmEvent({ 'detail-type': 'Something else' })).toThrow(RollbackError);
  });
});

describe('Use case: rollBackService against the AppConfig fake', () => {
  it('deploys the last safe flags of the service only, with the rollback strategy, and announces it', async () => {
    const clock = { t: T0 - 3_600_000 };
    const port = await deployedSteps([flags(10), flags(25), flags(50)], clock);
    // another service moved meanwhile: it must keep its flags
    const other = withServiceFlags(port.deployed(), 'customer', flags(100, 'primary'));
    await port.startDeployment(await port.createVersion(other), 'gradual');
    clock.t = T0 + 2_000;
    const publisher = new InMemoryPublisher();
    const result = await rollBackService('catalog', alarm, {
      port,
      publisher,
      now: () => clock.t,
      sleep: async () => {},
    });

    expect(result).toMatchObject({ action: 'deploy', safe: flags(25) });
    expect(result.durationSeconds).toBeCloseTo(2, 3);
    const last = port.deployments.at(-1)!;
    expect(last).toMatchObject({ strategy: 'rollback', state: 'COMPLETE' });
    const deployed = port.deployed();
    expect(serviceFlagsOf(deployed, 'catalog')).toEqual(flags(25));
    expect(serviceFlagsOf(deployed, 'customer')).toEqual(flags(100, 'primary'));
    expect(serviceFlagsOf(deployed, 'order')).toEqual(INITIAL_SERVICE_FLAGS);
    expect(publisher.published).toHaveLength(1);
    expect(publisher.published[0]).toMatchObject({
      Source: ROLLBACK_EVENT.source,
      DetailType: ROLLBACK_EVENT.detailType,
    });
    expect(JSON.parse(publisher.published[0]!.Detail)).toMatchObject({
      service: 'catalog',
      action: 'deploy',
    });

    // the same alarm again (retry, second alarm): nothing more is deployed
    const again = await rollBackService('catalog', alarm, {
      port,
      publisher,
      now: () => clock.t,
      sleep: async () => {},
    });
    expect(again.action).toBe('none');
    expect(port.deployments.at(-1)).toBe(last);
  });

  it('finds the last safe flags of a service cut over long ago, beyond the newest pages of the history', async () => {
    const clock = { t: T0 - 90 * 86_400_000 };
    const port = await deployedSteps([flags(10), flags(100), flags(100, 'primary')], clock);
    // months of other services' changes: 120 deployments, more than two ListDeployments pages
    await otherServicesDeploy(port, 120);
    clock.t = T0;
    const result = await rollBackService('catalog', alarm, {
      port,
      publisher: new InMemoryPublisher(),
      now: () => clock.t,
      sleep: async () => {},
    });
    // back to before the write cutover, not to the monolith's 0 % / legacy
    expect(result).toMatchObject({ action: 'deploy', safe: flags(100) });
    expect(serviceFlagsOf(port.deployed(), 'catalog')).toEqual(flags(100));
    expect(port.commands.filter((c) => c === 'ListDeployments').length).toBeGreaterThanOrEqual(3);
  });

  it('refuses, announcing why, when the history cannot tell the safe flags (a version was deleted)', async () => {
    const clock = { t: T0 - 86_400_000 };
    const port = await deployedSteps([flags(100), flags(100, 'primary')], clock);
    await otherServicesDeploy(port, 3);
    // the version deployed before the cutover is gone: its flags are unknown
    const beforeCutover = port.deployments.find((d) => d.id === '2')!.version;
    port.deleteVersion(beforeCutover);
    const publisher = new InMemoryPublisher();
    const before = port.deployments.length;
    const error = await rollBackService('catalog', alarm, {
      port,
      publisher,
      now: () => T0,
      sleep: async () => {},
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RollbackRefusedError);
    expect((error as RollbackRefusedError).reason).toContain(`version ${beforeCutover} of deployment 2`);
    // nothing changed, nothing stopped
    expect(port.deployments).toHaveLength(before);
    expect(port.calls.some((c) => c.startsWith('stopDeployment'))).toBe(false);
    expect(serviceFlagsOf(port.deployed(), 'catalog')).toEqual(flags(100, 'primary'));
    expect(publisher.published).toHaveLength(1);
    expect(publisher.published[0]).toMatchObject({
      Source: ROLLBACK_REFUSED_EVENT.source,
      DetailType: 'cutover.rollback.refused',
    });
    expect(JSON.parse(publisher.published[0]!.Detail)).toMatchObject({
      service: 'catalog',
      alarmName: alarm.alarmName,
      reason: (error as RollbackRefusedError).reason,
    });
  });

  it('stops a deployment in progress and waits for AppConfig to roll it back; the stopped change was the suspect', async () => {
    const clock = { t: T0 };
    const port = await deployedSteps([flags(10)], clock);
    // a rollout step of catalog to primary writes is baking when the alarm fires
    port.autoComplete = false;
    const doc = withServiceFlags(port.deployed(), 'catalog', flags(10, 'primary'));
    const baking = await port.startDeployment(await port.createVersion(doc), 'gradual');
    port.advance(baking);
    const publisher = new InMemoryPublisher();
    const result = await rollBackService('catalog', alarm, {
      port,
      publisher,
      now: () => clock.t,
      sleep: virtualSleep(port, clock),
    });
    expect(result.stopped).toBe(baking);
    expect((await port.getDeployment(baking)).state).toBe('ROLLED_BACK');
    // the stopped step was the suspect; the 10 % shadow state is in effect again: no new deployment
    expect(result.action).toBe('none');
    expect(serviceFlagsOf(port.deployed(), 'catalog')).toEqual(flags(10));
    expect(port.calls).toContain(`stopDeployment:${baking}`);
  });

  it("deploys only after another service's stopped deployment has rolled back", async () => {
    const clock = { t: T0 };
    const port = await deployedSteps([flags(10), flags(25)], clock);
    port.autoComplete = false;
    const other = await port.startDeployment(
      await port.createVersion(withServiceFlags(port.deployed(), 'order', flags(10))),
      'gradual',
    );
    const result = await rollBackService('catalog', alarm, {
      port,
      publisher: new InMemoryPublisher(),
      now: () => clock.t,
      sleep: virtualSleep(port, clock),
      pollMs: 500,
    });
    expect(result).toMatchObject({ action: 'deploy', stopped: other, safe: flags(10) });
    const stopped = port.deployments.find((d) => d.id === other)!;
    const restore = port.deployments.at(-1)!;
    expect(stopped.state).toBe('ROLLED_BACK');
    expect(restore).toMatchObject({ strategy: 'rollback', state: 'COMPLETE' });
    expect(Date.parse(restore.startedAt)).toBeGreaterThanOrEqual(Date.parse(stopped.completedAt!));
    // the stopped change of `order` is not carried into the rollback version
    expect(serviceFlagsOf(port.deployed(), 'order')).toEqual(INITIAL_SERVICE_FLAGS);
    expect(serviceFlagsOf(port.deployed(), 'catalog')).toEqual(flags(10));
  });

  it('fails (so the invocation is retried) when the rollback cannot be started', async () => {
    const clock = { t: T0 };
    const port = await deployedSteps([flags(10), flags(25)], clock);
    port.startDeployment = async () => {
      throw new Error('ThrottlingException');
    };
    await expect(
      rollBackService('catalog', alarm, {
        port,
        publisher: new InMemoryPublisher(),
        now: systemAmbient.now,
        sleep: async () => {},
      }),
    ).rejects.toThrow('ThrottlingException');
  });
});

describe('Function: rollback handler', () => {
  // The recorded composite alarm event, with our alarm's name and state.
  const event = (alarmName: string, value = 'ALARM') => compositeAlarmEvent(alarmName, value, new Date(T0));

  it("rolls back the alarm's service and records the duration", async () => {
    const clock = { t: T0 + 5_000 };
    const port = await deployedSteps([flags(10), flags(25)], clock);
    const durations: [string, number][] = [];
    const result = await handleAlarm(event(rollbackAlarmName('prod', 'magento', 'catalog')), {
      spec: magento,
      stage: 'prod',
      port,
      publisher: new InMemoryPublisher(),
      now: () => clock.t,
      sleep: async () => {},
      recordDuration: (s, d) => durations.push([s, d]),
    });
    expect(result?.safe).toEqual(flags(10));
    expect(durations).toEqual([['catalog', 5]]);
  });

  it('ignores other alarms, other stages and non-ALARM states', async () => {
    const port = await deployedSteps([flags(10)], { t: T0 });
    const ctx = {
      spec: magento,
      stage: 'prod',
      port,
      publisher: new InMemoryPublisher(),
      recordDuration: () => {
        throw new Error('must not record');
      },
    };
    expect(await handleAlarm(event('some-other-alarm'), ctx)).toBeUndefined();
    expect(await handleAlarm(event(rollbackAlarmName('dev', 'magento', 'catalog')), ctx)).toBeUndefined();
    expect(
      await handleAlarm(event(rollbackAlarmName('prod', 'magento', 'catalog'), 'OK'), ctx),
    ).toBeUndefined();
    expect(port.calls.filter((c) => c.startsWith('startDeployment'))).toHaveLength(1);
  });

  it('logs the service rolled back under a key Powertools keeps, the one the dashboard widget queries', async () => {
    const clock = { t: T0 + 5_000 };
    const port = await deployedSteps([flags(10), flags(25)], clock);
    const lines: string[] = [];
    logger.setLogLevel('INFO');
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      await handleAlarm(event(rollbackAlarmName('prod', 'magento', 'catalog')), {
        spec: magento,
        stage: 'prod',
        port,
        publisher: new InMemoryPublisher(),
        now: () => clock.t,
        sleep: async () => {},
        recordDuration: () => {},
      });
    } finally {
      spy.mockRestore();
    }
    const logged = lines
      .flatMap((l) => l.split('\n'))
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l['message'] === 'rollback');
    expect(logged).toBeDefined();
    // Powertools writes its own service name under `service`; the rolled-back one survives beside it
    expect(logged).toMatchObject({
      service: 'cutover-rollback',
      rolledBackService: 'catalog',
      action: 'deploy',
    });

    // The dashboard's rollback widget, as synthesized: every field it reads is on the line.
    const stack = new Stack(new App(), 'Dash');
    new MigrationDashboard(stack, 'Dashboard', {
      spec: magento,
      stage: 'prod',
      dlqNames: {},
      rollbackAlarms: [
        cloudwatch.Alarm.fromAlarmArn(stack, 'A', 'arn:aws:cloudwatch:eu-west-1:111111111111:alarm:x'),
      ],
      rollbackLogGroup: logs.LogGroup.fromLogGroupName(stack, 'L', '/aws/lambda/rollback'),
    });
    const dashboard = Object.values(
      stack.resolve(
        (stack.node.findAll().find((c) => c instanceof cloudwatch.CfnDashboard) as cloudwatch.CfnDashboard)
          .dashboardBody,
      ) as Record<string, [string, unknown[]]>,
    )[0]!;
    const body = JSON.parse(dashboard[1].map((p) => (typeof p === 'string' ? p : 'x')).join('')) as {
      widgets: Array<{ properties: { query?: string } }>;
    };
    const query = body.widgets
      .map((w) => w.properties.query)
      .find((q) => q?.includes('filter message = "rollback"'));
    expect(query).toBeDefined();
    const fields = query!
      .split('|')
      .find((part) => part.trim().startsWith('fields '))!
      .trim()
      .slice('fields '.length)
      .split(',')
      .map((f) => f.trim().split(/\s+as\s+/)[0]!)
      .filter((f) => !f.startsWith('@'));
    expect(fields).toContain('rolledBackService');
    expect(fields).not.toContain('service');
    for (const f of fields) {
      const value = f
        .split('.')
        .reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], logged);
      expect(value, `the widget reads ${f}`).toBeDefined();
    }
  });
});
