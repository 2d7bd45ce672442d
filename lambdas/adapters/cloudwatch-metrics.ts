/**
 * {@link MetricsPort} on CloudWatch GetMetricData: each query is one `MetricStat` whose period
 * covers the whole window (rounded out to whole minutes), so CloudWatch returns one value per
 * query: the window's Sum, Maximum, Average, SampleCount or p95.
 */
import { CloudWatchClient, GetMetricDataCommand, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import type { MetricQuery, MetricsPort, TimeWindow } from '../domain/rollout.js';

const MINUTE = 60_000;

export class CloudWatchMetrics implements MetricsPort {
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
