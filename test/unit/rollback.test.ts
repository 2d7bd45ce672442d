import { describe, expect, it } from 'vitest';
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
  RollbackError,
  rollBackService,
  serviceOfAlarm,
} from '../../lambdas/domain/rollback.js';
import { handleAlarm } from '../../lambdas/handlers/rollback.js';
import { rollbackAlarmName, rollbackAlarmPrefix } from '../../lib/spec/names.js';
import { magento } from '../../migrations/index.js';
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
    const d = decideRollback([record('3', 'COMPLETE', flags(50)), record('2', 'COMPLETE', flags(25))]);
    expect(d).toMatchObject({ action: 'deploy', safe: flags(25), current: flags(50), suspect: '3' });
  });

  it('skips deployments that changed other services only', () => {
    // 4 changed another service (catalog flags equal to 3's); 3 is the suspect.
    const d = decideRollback([
      record('4', 'COMPLETE', flags(50)),
      record('3', 'COMPLETE', flags(50)),
      record('2', 'COMPLETE', flags(25)),
    ]);
    expect(d).toMatchObject({ action: 'deploy', safe: flags(25), suspect: '3' });
  });

  it('does nothing twice: after a rollback deployment the service is already safe', () => {
    const d = decideRollback([
      record('4', 'COMPLETE', flags(25), 'rollback'),
      record('3', 'COMPLETE', flags(50)),
      record('2', 'COMPLETE', flags(25)),
    ]);
    expect(d.action).toBe('none');
    expect(d.safe).toEqual(flags(25));
  });

  it('stops a deployment in progress; when its monitor already rolled it back nothing else is deployed', () => {
    const active: FlagDeployment = {
      id: '3',
      version: 3,
      state: 'BAKING',
      strategy: 'gradual',
      startedAt: new Date(T0).toISOString(),
    };
    const d = decideRollback([record('3', 'BAKING', flags(50)), record('2', 'COMPLETE', flags(25))], active);
    expect(d).toMatchObject({ action: 'none', stop: '3', safe: flags(25) });
  });

  it('falls back to 0 % / legacy without history', () => {
    const d = decideRollback([record('1', 'COMPLETE', flags(100, 'primary'), 'other' as never)]);
    expect(d).toMatchObject({ action: 'deploy', safe: INITIAL_SERVICE_FLAGS });
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

    expect(result).toMatchObject({ action: 'deploy', safe: flags(25), state: 'COMPLETE' });
    expect(result.durationSeconds).toBeCloseTo(2, 3);
    const last = port.deployments.at(-1)!;
    expect(last.strategy).toBe('rollback');
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

  it('stops a deployment in progress before deploying, and waits for the rollback to complete', async () => {
    const clock = { t: T0 };
    const port = await deployedSteps([flags(10)], clock);
    // a rollout step of catalog to 0 % reads / primary writes is baking when the alarm fires
    port.autoComplete = false;
    const doc = withServiceFlags(port.deployed(), 'catalog', flags(10, 'primary'));
    const baking = await port.startDeployment(await port.createVersion(doc), 'gradual');
    port.advance(baking);
    const publisher = new InMemoryPublisher();
    const result = await rollBackService('catalog', alarm, {
      port,
      publisher,
      now: () => clock.t,
      sleep: async () => {},
    });
    expect(result.stopped).toBe(baking);
    expect((await port.getDeployment(baking)).state).toBe('ROLLED_BACK');
    // the stopped step was the suspect; the 10 % shadow state is in effect again: no new deployment
    expect(result.action).toBe('none');
    expect(serviceFlagsOf(port.deployed(), 'catalog')).toEqual(flags(10));
    expect(port.calls).toContain(`stopDeployment:${baking}`);
  });

  it("waits for the rollback deployment (polling) after stopping another service's deployment", async () => {
    const clock = { t: T0 };
    const port = await deployedSteps([flags(10), flags(25)], clock);
    port.autoComplete = false;
    const other = await port.startDeployment(
      await port.createVersion(withServiceFlags(port.deployed(), 'order', flags(10))),
      'gradual',
    );
    const polls: number[] = [];
    const sleep = async (ms: number) => {
      polls.push(ms);
      clock.t += ms;
      const running = port.deployments.find((d) => d.state === 'DEPLOYING' || d.state === 'BAKING');
      if (running) port.advance(running.id);
    };
    const result = await rollBackService('catalog', alarm, {
      port,
      publisher: new InMemoryPublisher(),
      now: () => clock.t,
      sleep,
      pollMs: 500,
    });
    expect(result).toMatchObject({ action: 'deploy', stopped: other, state: 'COMPLETE', safe: flags(10) });
    expect(polls.length).toBeGreaterThanOrEqual(2);
    expect((await port.getDeployment(other)).state).toBe('ROLLED_BACK');
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
      rollBackService('catalog', alarm, { port, publisher: new InMemoryPublisher(), sleep: async () => {} }),
    ).rejects.toThrow('ThrottlingException');
  });
});

describe('Function: rollback handler', () => {
  const event = (alarmName: string, value = 'ALARM') => ({
    'detail-type': 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    detail: { alarmName, state: { value, timestamp: new Date(T0).toISOString() } },
  });

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
});
