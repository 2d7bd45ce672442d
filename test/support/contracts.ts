/**
 * The recorded payloads under test/contracts/ (each file names its source), and builders that
 * derive test inputs from them, so the events and answers the tests feed in keep the real shapes.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.join(import.meta.dirname, '..', 'contracts');

/** A contract file, parsed (`area/name.json`). */
export function contract<T = Record<string, unknown>>(file: string): T {
  return JSON.parse(readFileSync(path.join(ROOT, file), 'utf8')) as T;
}

interface AlarmEvent {
  'detail-type': string;
  time: string;
  resources: string[];
  detail: { alarmName: string; state: { value: string; timestamp: string } & Record<string, unknown> };
}

/**
 * A `CloudWatch Alarm State Change` event as EventBridge delivers it for a composite alarm (the
 * rollback alarms are composite): the recorded event with only the alarm's name (and ARN), the
 * state and its time replaced.
 */
export function compositeAlarmEvent(alarmName: string, value = 'ALARM', at = new Date()): AlarmEvent {
  const { event } = contract<{ event: AlarmEvent }>('cloudwatch/alarm-state-change-composite.json');
  const e = structuredClone(event);
  const arn = e.resources[0]!.replace(/alarm:.*$/, `alarm:${alarmName}`);
  e.resources = [arn];
  e.time = `${at.toISOString().slice(0, 19)}Z`;
  e.detail.alarmName = alarmName;
  e.detail.state.value = value;
  // CloudWatch writes the state time as 2022-07-22T15:57:45.394+0000.
  e.detail.state.timestamp = at.toISOString().replace('Z', '+0000');
  return e;
}
