/**
 * {@link MetricsPort} on CloudWatch: each {@link RolloutSignal} is the metric it is recorded as
 * (the contract in lib/spec/metrics.ts: the gateway's and the sync's EMF metrics in the
 * `Cutover` namespace; a queue's depth in `AWS/SQS`) with the statistic that answers it, and
 * GetMetricData reads each as one `MetricStat` whose period covers the whole window (rounded out
 * to whole minutes), so CloudWatch returns one value per signal.
 */
import { CloudWatchClient, GetMetricDataCommand, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { METRIC, METRICS_NAMESPACE } from '../../lib/spec/metrics.js';
import type { MetricsPort, RolloutSignal, TimeWindow } from '../domain/rollout.js';

const MINUTE = 60_000;

export type MetricStat = 'Sum' | 'Maximum' | 'Average' | 'SampleCount' | 'p95';

/** One statistic of one metric over a whole window (GetMetricData `MetricStat`). */
export interface MetricQuery {
  /** Unique in a request; lower case start, as GetMetricData requires. */
  readonly id: string;
  readonly namespace: string;
  readonly metricName: string;
  /** The exact dimension set the metric is emitted with. */
  readonly dimensions: Readonly<Record<string, string>>;
  readonly stat: MetricStat;
}

/** Reads metric queries: CloudWatch's GetMetricData, or a stand-in (the rehearsal's). */
export interface MetricQueryReader {
  measure(queries: readonly MetricQuery[], window: TimeWindow): Promise<Record<string, number | undefined>>;
}

/** The metric and statistic a signal is read from. */
export function metricQueryOf(signal: RolloutSignal, id: string): MetricQuery {
  if (signal.kind === 'queueDepth') {
    return {
      id,
      namespace: 'AWS/SQS',
      metricName: 'ApproximateNumberOfMessagesVisible',
      dimensions: { QueueName: signal.queueName },
      stat: 'Maximum',
    };
  }
  const { service } = signal;
  const [metricName, dimensions, stat]: [string, Record<string, string>, MetricStat] =
    signal.kind === 'serviceRequests'
      ? [METRIC.gatewayRequests, { service, target: 'service', outcome: signal.outcome }, 'Sum']
      : signal.kind === 'latencyP95'
        ? [METRIC.gatewayLatency, { service, target: signal.target }, 'p95']
        : signal.kind === 'forwardEvents'
          ? [METRIC.eventProcessing, { service, direction: 'forward', status: signal.status }, 'Sum']
          : [METRIC.consistencyLag, { service, consistency_type: signal.consistencyType }, 'Maximum'];
  return { id, namespace: METRICS_NAMESPACE, metricName, dimensions, stat };
}

/**
 * {@link MetricsPort} over any {@link MetricQueryReader}: the signals become queries with ids
 * GetMetricData accepts (`m0`, `m1`, …), the values come back under the caller's names.
 */
export class SignalMetrics implements MetricsPort {
  constructor(private readonly reader: MetricQueryReader) {}

  async measure<K extends string>(
    signals: Readonly<Record<K, RolloutSignal>>,
    window: TimeWindow,
  ): Promise<Record<K, number | undefined>> {
    const names = Object.keys(signals) as K[];
    const values = await this.reader.measure(
      names.map((name, i) => metricQueryOf(signals[name], `m${i}`)),
      window,
    );
    return Object.fromEntries(names.map((name, i) => [name, values[`m${i}`]])) as Record<
      K,
      number | undefined
    >;
  }
}

/** GetMetricData, one value per query over the whole window, `undefined` if none. */
export class CloudWatchQueryReader implements MetricQueryReader {
  constructor(private readonly client: CloudWatchClient = new CloudWatchClient({})) {}

  async measure(
    queries: readonly MetricQuery[],
    window: TimeWindow,
  ): Promise<Record<string, number | undefined>> {
    const start = Math.floor(window.start / MINUTE) * MINUTE;
    const end = Math.max(start + MINUTE, Math.ceil(window.end / MINUTE) * MINUTE);
    const period = (end - start) / 1000;
    const out: Record<string, number | undefined> = Object.fromEntries(queries.map((q) => [q.id, undefined]));
    // GetMetricData takes at most 500 queries per call.
    for (let i = 0; i < queries.length; i += 500) {
      const batch: MetricDataQuery[] = queries.slice(i, i + 500).map((q) => ({
        Id: q.id,
        ReturnData: true,
        MetricStat: {
          Metric: {
            Namespace: q.namespace,
            MetricName: q.metricName,
            Dimensions: Object.entries(q.dimensions).map(([Name, Value]) => ({ Name, Value })),
          },
          Period: period,
          Stat: q.stat,
        },
      }));
      let token: string | undefined;
      do {
        const res = await this.client.send(
          new GetMetricDataCommand({
            MetricDataQueries: batch,
            StartTime: new Date(start),
            EndTime: new Date(end),
            ScanBy: 'TimestampDescending',
            NextToken: token,
          }),
        );
        for (const r of res.MetricDataResults ?? []) {
          if (!r.Id || !r.Values?.length) continue;
          // One period covers the window; should CloudWatch still split it, combine the parts.
          const stat = queries.find((q) => q.id === r.Id)?.stat;
          const values = [...r.Values, ...(out[r.Id] === undefined ? [] : [out[r.Id]!])];
          out[r.Id] =
            stat === 'Sum' || stat === 'SampleCount'
              ? values.reduce((a, b) => a + b, 0)
              : stat === 'Average'
                ? values.reduce((a, b) => a + b, 0) / values.length
                : Math.max(...values);
        }
        token = res.NextToken;
      } while (token);
    }
    return out;
  }
}

/** {@link MetricsPort} on CloudWatch GetMetricData. */
export class CloudWatchMetrics extends SignalMetrics {
  constructor(client: CloudWatchClient = new CloudWatchClient({})) {
    super(new CloudWatchQueryReader(client));
  }
}
