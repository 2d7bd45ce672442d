/**
 * Rollback after a deployment: `CloudWatch Alarm State Change` (ALARM) of a service's rollback
 * alarm, from the EventBridge rule of the AlarmRollback construct. Parse -> decide and deploy
 * (lambdas/domain/rollback.ts) -> metric `rollback_duration_seconds{service}`.
 *
 * An event that is not ours (another alarm, a non-ALARM state) is logged and ignored; an error
 * while rolling back, or a refusal (the last safe flags cannot be determined; announced as
 * `cutover.rollback.refused`), is thrown, so the asynchronous invocation is retried and finally
 * lands in the DLQ, which alarms.
 */

import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import middy from '@middy/core';
import { METRIC } from '../../lib/spec/metrics.js';
import { rollbackAlarmPrefix } from '../../lib/spec/names.js';
import { functionEnv, metricsNamespaceFromEnv, RUNTIME_ENV, requiredEnv } from '../../lib/spec/runtime.js';
import type { MigrationSpec } from '../../lib/spec/schema.js';
import { appConfigPortFromEnv } from '../adapters/appconfig.js';
import { EventBridgePublisher } from '../adapters/eventbridge-publisher.js';
import { systemAmbient } from '../adapters/system-clock.js';
import type { FlagDeploymentPort } from '../domain/flags.js';
import type { EventPublisher } from '../domain/ports.js';
import {
  parseAlarmEvent,
  RollbackRefusedError,
  type RollbackResult,
  rollBackService,
  serviceOfAlarm,
} from '../domain/rollback.js';
import { specFromEnv } from './bundled-spec.js';

/**
 * The function's logger. Powertools reserves the `service` key for the function's own name
 * (`cutover-rollback`) and drops an attribute of that name, so the service rolled back is logged
 * as `rolledBackService` (the dashboard's rollback widget reads that key).
 */
export const logger = new Logger({ serviceName: 'cutover-rollback' });

export interface RollbackContext {
  readonly spec: MigrationSpec;
  readonly stage: string;
  readonly port: FlagDeploymentPort;
  readonly publisher: EventPublisher;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Records `rollback_duration_seconds`. */
  readonly recordDuration: (service: string, seconds: number) => void;
}

/** The handler's work, with its collaborators injectable (tests, local rehearsal). */
export async function handleAlarm(event: unknown, ctx: RollbackContext): Promise<RollbackResult | undefined> {
  const alarm = parseAlarmEvent(event);
  if (alarm.state !== 'ALARM') {
    logger.info('ignored: not an ALARM transition', { alarmName: alarm.alarmName, state: alarm.state });
    return undefined;
  }
  const service = serviceOfAlarm(
    alarm.alarmName,
    rollbackAlarmPrefix(ctx.stage, ctx.spec.name),
    ctx.spec.services.map((s) => s.name),
  );
  if (!service) {
    logger.warn('ignored: the alarm is not a rollback alarm of this migration', {
      alarmName: alarm.alarmName,
    });
    return undefined;
  }
  let result: RollbackResult;
  try {
    result = await rollBackService(service, alarm, {
      port: ctx.port,
      publisher: ctx.publisher,
      now: ctx.now ?? systemAmbient.now,
      sleep: ctx.sleep ?? systemAmbient.sleep,
    });
  } catch (error) {
    if (error instanceof RollbackRefusedError) {
      logger.error('rollback refused', {
        rolledBackService: service,
        alarmName: alarm.alarmName,
        reason: error.reason,
      });
    }
    throw error;
  }
  ctx.recordDuration(service, result.durationSeconds);
  const { service: rolledBackService, ...rest } = result;
  logger.info('rollback', { rolledBackService, ...rest });
  return result;
}

let context: RollbackContext | undefined;

function contextFromEnv(env: NodeJS.ProcessEnv = functionEnv()): RollbackContext {
  return {
    spec: specFromEnv(env),
    stage: requiredEnv(RUNTIME_ENV.stage, env),
    port: appConfigPortFromEnv(env),
    publisher: new EventBridgePublisher({ busName: requiredEnv(RUNTIME_ENV.busName, env) }),
    recordDuration: (service, seconds) => {
      // One data point per rollback, with exactly the dimension set the dashboard reads.
      const m = new Metrics({
        namespace: metricsNamespaceFromEnv(env),
        serviceName: service,
        singleMetric: true,
      });
      m.addMetric(METRIC.rollbackDuration, MetricUnit.Seconds, seconds);
    },
  };
}

export const handler = middy(async (event: unknown) => {
  context ??= contextFromEnv();
  await handleAlarm(event, context);
}).use(injectLambdaContext(logger));
