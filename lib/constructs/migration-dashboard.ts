import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { METRIC } from '../spec/metrics.js';
import type { MigrationSpec } from '../spec/schema.js';
import { cutoverMetric, queueMetric } from './metrics.js';

export interface MigrationDashboardProps {
  readonly spec: MigrationSpec;
  readonly stage: string;
  /** DLQ names per service. */
  readonly dlqNames: Readonly<Record<string, readonly string[]>>;
  /** The rollback alarms (their state is the flag-safety state at a glance). */
  readonly rollbackAlarms: readonly cloudwatch.IAlarm[];
  /** Where operators change flags (a console link). @default - no link */
  readonly flagsConsoleUrl?: string;
  /** Log group of the rollback Lambda: the dashboard lists the recent rollbacks and the flags they set. @default - no list */
  readonly rollbackLogGroup?: logs.ILogGroup;
  /** @default `cutover-<stage>-<migration>` */
  readonly dashboardName?: string;
}

/**
 * One CloudWatch dashboard per migration: per service, sync throughput and failures
 * (`event_processing_total`), consistency lag (`data_consistency_lag_seconds`), conflicts
 * (`conflict_resolution_total`), DLQ depth, gateway traffic split and errors, rollout gate
 * verdicts (`rollout_gate_total`) and rollbacks (`rollback_duration_seconds`), with the rollback
 * alarms' state and the recent rollbacks (with the flags they deployed) on top.
 */
export class MigrationDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: MigrationDashboardProps) {
    super(scope, id);
    const sum = { statistic: 'Sum', period: Duration.minutes(1) };
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName ?? `cutover-${props.stage}-${props.spec.name}`,
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown:
          `# ${props.spec.name} (${props.stage})\n${props.spec.description}. Services in rollout order: ` +
          props.spec.services.map((s) => `**${s.name}**`).join(' → ') +
          (props.flagsConsoleUrl ? `. [Flags in AppConfig](${props.flagsConsoleUrl})` : ''),
        width: 24,
        height: 2,
      }),
      new cloudwatch.AlarmStatusWidget({
        title: 'Rollback alarms (ALARM = the service is being rolled back)',
        alarms: [...props.rollbackAlarms],
        width: 24,
        height: 2,
      }),
    );
    if (props.rollbackLogGroup) {
      this.dashboard.addWidgets(
        new cloudwatch.LogQueryWidget({
          title: 'Rollbacks after deployment: service, action and the flags deployed',
          logGroupNames: [props.rollbackLogGroup.logGroupName],
          queryLines: [
            // `rolledBackService`: Powertools reserves `service` for the function's own name.
            'fields @timestamp, rolledBackService, action, safe.read.percentage as read_pct, safe.write.mode as write_mode, deploymentId',
            'filter message = "rollback"',
            'sort @timestamp desc',
            'limit 20',
          ],
          width: 24,
          height: 5,
        }),
      );
    }
    for (const service of props.spec.services) {
      const s = service.name;
      const classes = [...new Set(service.entities.map((e) => e.consistency))];
      this.dashboard.addWidgets(
        new cloudwatch.TextWidget({ markdown: `## ${s}`, width: 24, height: 1 }),
        new cloudwatch.GraphWidget({
          title: `${s}: events processed`,
          width: 6,
          left: (['forward', 'reverse'] as const).flatMap((direction) =>
            (['applied', 'failed'] as const).map((status) =>
              cutoverMetric(
                METRIC.eventProcessing,
                { service: s, direction, status },
                { ...sum, label: `${direction} ${status}` },
              ),
            ),
          ),
        }),
        new cloudwatch.GraphWidget({
          title: `${s}: consistency lag (s)`,
          width: 6,
          left: classes.map((c) =>
            cutoverMetric(
              METRIC.consistencyLag,
              { service: s, consistency_type: c },
              { statistic: 'Maximum', label: c },
            ),
          ),
        }),
        new cloudwatch.GraphWidget({
          title: `${s}: conflicts by winner`,
          width: 6,
          stacked: true,
          left: ['legacy', 'service', 'admin', 'merged'].map((winner) =>
            cutoverMetric(METRIC.conflictResolution, { service: s, winner }, { ...sum, label: winner }),
          ),
        }),
        new cloudwatch.GraphWidget({
          title: `${s}: DLQ depth`,
          width: 6,
          left: (props.dlqNames[s] ?? []).map((q) =>
            queueMetric(q, 'ApproximateNumberOfMessagesVisible', { label: q }),
          ),
        }),
        new cloudwatch.GraphWidget({
          title: `${s}: gateway requests by target`,
          width: 8,
          stacked: true,
          left: ['legacy', 'service'].flatMap((target) =>
            ['success', 'error'].map((outcome) =>
              cutoverMetric(
                METRIC.gatewayRequests,
                { service: s, target, outcome },
                { ...sum, label: `${target} ${outcome}` },
              ),
            ),
          ),
        }),
        new cloudwatch.GraphWidget({
          title: `${s}: gateway p95 latency (ms)`,
          width: 8,
          left: ['legacy', 'service'].map((target) =>
            cutoverMetric(METRIC.gatewayLatency, { service: s, target }, { statistic: 'p95', label: target }),
          ),
        }),
        new cloudwatch.GraphWidget({
          title: `${s}: rollout gate verdicts`,
          width: 4,
          stacked: true,
          left: ['pass', 'extend', 'fail'].map((verdict) =>
            cutoverMetric(
              METRIC.rolloutGate,
              { service: s, verdict },
              { statistic: 'Sum', period: Duration.hours(1), label: verdict },
            ),
          ),
        }),
        new cloudwatch.SingleValueWidget({
          title: `${s}: last rollback duration (s)`,
          width: 4,
          metrics: [
            cutoverMetric(
              METRIC.rollbackDuration,
              { service: s },
              { statistic: 'Maximum', period: Duration.days(1) },
            ),
          ],
        }),
      );
    }
  }
}
