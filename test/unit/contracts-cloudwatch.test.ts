/**
 * The alarm events the rollback reads, against the `CloudWatch Alarm State Change` events
 * CloudWatch documents (test/contracts/cloudwatch/, sources named there): the recorded metric and
 * composite alarm events are accepted as they are, and the builder the rollback tests feed events
 * from changes nothing but the alarm's name, state and time.
 */
import { describe, expect, it } from 'vitest';
import { parseAlarmEvent } from '../../lambdas/domain/rollback.js';
import { compositeAlarmEvent, contract } from '../support/contracts.js';

const recorded = (file: string) => contract<{ event: Record<string, unknown> }>(file).event;

describe('Contract: CloudWatch Alarm State Change on EventBridge', () => {
  it('reads the recorded metric alarm event', () => {
    expect(parseAlarmEvent(recorded('cloudwatch/alarm-state-change-metric.json'))).toEqual({
      alarmName: 'ServerCpuTooHigh',
      state: 'ALARM',
      changedAt: '2019-10-02T17:04:40.989Z',
      reason: expect.stringContaining('Threshold Crossed'),
    });
  });

  it('reads the recorded composite alarm event (the kind the rollback rule matches)', () => {
    expect(parseAlarmEvent(recorded('cloudwatch/alarm-state-change-composite.json'))).toEqual({
      alarmName: 'ServiceAggregatedAlarm',
      state: 'ALARM',
      changedAt: '2022-07-22T15:57:45.394Z',
      reason: expect.stringContaining('transitioned to ALARM'),
    });
  });

  it('the test events are the recorded composite event with only name, state and time replaced', () => {
    const original = recorded('cloudwatch/alarm-state-change-composite.json') as {
      detail: Record<string, unknown>;
    };
    const at = new Date('2026-11-25T10:00:00.123Z');
    const built = compositeAlarmEvent('cutover-prod-magento-rollback-catalog', 'OK', at);
    expect(Object.keys(built).sort()).toEqual(Object.keys(original).sort());
    expect(Object.keys(built.detail).sort()).toEqual(Object.keys(original.detail).sort());
    expect(built.detail.state.timestamp).toBe('2026-11-25T10:00:00.123+0000');
    expect(built.resources).toEqual([
      'arn:aws:cloudwatch:us-east-1:123456789012:alarm:cutover-prod-magento-rollback-catalog',
    ]);
    expect(parseAlarmEvent(built)).toMatchObject({
      alarmName: 'cutover-prod-magento-rollback-catalog',
      state: 'OK',
      changedAt: at.toISOString(),
    });
  });
});
