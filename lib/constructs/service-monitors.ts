import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { METRIC } from '../spec/metrics.js';
import { monitorAlarmName, rollbackAlarmName } from '../spec/names.js';
import type { AlarmThresholds, Consistency, ServiceSpec } from '../spec/schema.js';
import { cutoverMetric, queueMetric } from './metrics.js';

export interface ServiceMonitorsProps {
  readonly stage: string;
  readonly migration: string;
  readonly service: ServiceSpec;
  readonly thresholds: AlarmThresholds;
  /** Names of the service's DLQs (they may live in another stack). */
  readonly dlqNames: readonly string[];
  /** Periods of one minute that must breach before an alarm fires. @default 2 (of 3) */
  readonly datapointsToAlarm?: number;
}

/**
 * The alarms that roll one service back, combined into one composite alarm
 * (`cutover-<stage>-<migration>-rollback-<service>`): gateway error rate and p95 latency of the
 * service target, consistency lag per consistency class (5 s strong, 300 s eventual from the
 * spec), and messages in any of the service's DLQs. The composite is an AppConfig environment
 * monitor (rollback during a deployment) and the trigger of the alarm-rollback rule (after it).
 *
 * The alarms watch metrics by name and dimensions only, so they can sit in the platform stack
 * next to the AppConfig environment while the queues live in the service stack.
 */
export class ServiceMonitors extends Construct {
  readonly errorRateAlarm: cloudwatch.Alarm;
  readonly latencyAlarm: cloudwatch.Alarm;
  readonly consistencyLagAlarms: Partial<Record<Consistency, cloudwatch.Alarm>>;
  readonly dlqDepthAlarm: cloudwatch.Alarm;
  /** The composite alarm: ALARM when any of the above is. */
  readonly rollbackAlarm: cloudwatch.CompositeAlarm;
  private readonly serviceName: string;

  constructor(scope: Construct, id: string, props: ServiceMonitorsProps) {
    super(scope, id);
    if (props.dlqNames.length === 0 || props.dlqNames.length > 10) {
      throw new Error(`ServiceMonitors ${id}: between 1 and 10 DLQ names (CloudWatch metric math limit)`);
    }
    const service = props.service.name;
    this.serviceName = service;
    const name = (kind: string) => monitorAlarmName(props.stage, props.migration, service, kind);
    const datapoints = props.datapointsToAlarm ?? 2;
    const common = {
      evaluationPeriods: Math.max(3, datapoints),
      datapointsToAlarm: datapoints,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    };

    this.errorRateAlarm = new cloudwatch.Alarm(this, 'ErrorRate', {
      ...common,
      alarmName: name('error-rate'),
      alarmDescription: `${service}: share of gateway requests to the service that failed`,
      metric: this.metricErrorRate(),
      threshold: props.thresholds.errorRateCritical,
    });
    this.latencyAlarm = new cloudwatch.Alarm(this, 'LatencyP95', {
      ...common,
      alarmName: name('latency-p95'),
      alarmDescription: `${service}: p95 latency of the service through the gateway (ms)`,
      metric: this.metricLatency('p95'),
      threshold: props.thresholds.p95WarningMs,
    });
    const classes = [...new Set(props.service.entities.map((e) => e.consistency))].sort();
    this.consistencyLagAlarms = {};
    for (const c of classes) {
      this.consistencyLagAlarms[c] = new cloudwatch.Alarm(
        this,
        c === 'strong' ? 'StrongLag' : 'EventualLag',
        {
          ...common,
          alarmName: name(`lag-${c}`),
          alarmDescription: `${service}: ${c} entities are behind (seconds from change to applied)`,
          metric: this.metricConsistencyLag(c),
          threshold: c === 'strong' ? props.thresholds.strongLagSeconds : props.thresholds.eventualLagSeconds,
        },
      );
    }
    const usingMetrics = Object.fromEntries(
      props.dlqNames.map((q, i) => [`q${i}`, queueMetric(q, 'ApproximateNumberOfMessagesVisible')]),
    );
    this.dlqDepthAlarm = new cloudwatch.Alarm(this, 'DlqDepth', {
      ...common,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      alarmName: name('dlq-depth'),
      alarmDescription: `${service}: messages in the service's dead-letter queues`,
      metric: new cloudwatch.MathExpression({
        expression: Object.keys(usingMetrics)
          .map((k) => `FILL(${k}, 0)`)
          .join(' + '),
        usingMetrics,
        label: 'DLQ messages',
        period: Duration.minutes(1),
      }),
      threshold: 0,
    });
    const children = [
      this.errorRateAlarm,
      this.latencyAlarm,
      ...Object.values(this.consistencyLagAlarms),
      this.dlqDepthAlarm,
    ];
    this.rollbackAlarm = new cloudwatch.CompositeAlarm(this, 'Rollback', {
      compositeAlarmName: rollbackAlarmName(props.stage, props.migration, service),
      alarmDescription: `${service}: roll the service's flags back to the last safe state`,
      alarmRule: cloudwatch.AlarmRule.anyOf(
        ...children.map((a) => cloudwatch.AlarmRule.fromAlarm(a, cloudwatch.AlarmState.ALARM)),
      ),
    });
  }

  /** Error ratio of gateway requests routed to the service. */
  metricErrorRate(): cloudwatch.MathExpression {
    const m = (outcome: string) =>
      cutoverMetric(
        METRIC.gatewayRequests,
        { service: this.serviceName, target: 'service', outcome },
        { statistic: 'Sum' },
      );
    return new cloudwatch.MathExpression({
      expression: 'IF((FILL(ok, 0) + FILL(err, 0)) > 0, FILL(err, 0) / (FILL(ok, 0) + FILL(err, 0)), 0)',
      usingMetrics: { ok: m('success'), err: m('error') },
      label: 'error rate',
      period: Duration.minutes(1),
    });
  }

  metricLatency(statistic = 'p95', target = 'service'): cloudwatch.Metric {
    return cutoverMetric(METRIC.gatewayLatency, { service: this.serviceName, target }, { statistic });
  }

  metricConsistencyLag(consistency: Consistency): cloudwatch.Metric {
    return cutoverMetric(
      METRIC.consistencyLag,
      { service: this.serviceName, consistency_type: consistency },
      { statistic: 'Maximum' },
    );
  }

  metricRollbackDuration(): cloudwatch.Metric {
    return cutoverMetric(METRIC.rollbackDuration, { service: this.serviceName }, { statistic: 'Maximum' });
  }
}
