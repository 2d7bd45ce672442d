/**
 * An in-memory, stateful CloudWatch for the gates: datapoints are stored as they are put
 * (namespace, name, exact dimension set, value, timestamp) and {@link MetricQueryReader.measure}
 * computes each query's statistic over the window as GetMetricData does for one period that
 * covers it: `Sum`, `SampleCount`, `Average`, `Maximum`, `p95` (nearest rank). No datapoint in
 * the window gives `undefined`, as CloudWatch returns no value.
 *
 * {@link LocalCloudWatch.putEmf} stores the metrics of an EMF document as CloudWatch extracts
 * them from a function's log (the rehearsal feeds it what its functions print). Used by the
 * tests (test/support/fake-cloudwatch.ts re-exports it) and by `cutover rehearse`.
 */
import type { MetricQuery, MetricQueryReader } from '../../lambdas/adapters/cloudwatch-metrics.js';
import type { TimeWindow } from '../../lambdas/domain/rollout.js';

interface Datapoint {
  readonly namespace: string;
  readonly metricName: string;
  readonly dims: string;
  readonly value: number;
  readonly at: number;
}

const dimsKey = (d: Readonly<Record<string, string>>) =>
  JSON.stringify(Object.entries(d).sort(([a], [b]) => a.localeCompare(b)));

export class LocalCloudWatch implements MetricQueryReader {
  readonly datapoints: Datapoint[] = [];
  /** Every `measure` call, for assertions. */
  readonly calls: Array<{ queries: readonly MetricQuery[]; window: TimeWindow }> = [];

  put(
    namespace: string,
    metricName: string,
    dimensions: Readonly<Record<string, string>>,
    values: number | readonly number[],
    at: number,
  ): void {
    for (const value of typeof values === 'number' ? [values] : values) {
      this.datapoints.push({ namespace, metricName, dims: dimsKey(dimensions), value, at });
    }
  }

  /**
   * The metrics of an EMF document (one CloudWatch Metrics directive per dimension set, values
   * as a number or an array), stored at the document's `_aws.Timestamp`.
   */
  putEmf(doc: Readonly<Record<string, unknown>>): void {
    const aws = doc['_aws'] as
      | {
          Timestamp?: number;
          CloudWatchMetrics?: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[];
        }
      | undefined;
    if (!aws?.CloudWatchMetrics) return;
    const at = typeof aws.Timestamp === 'number' ? aws.Timestamp : Date.now();
    for (const directive of aws.CloudWatchMetrics) {
      for (const set of directive.Dimensions.length ? directive.Dimensions : [[]]) {
        const dims = Object.fromEntries(set.map((d) => [d, String(doc[d])]));
        for (const m of directive.Metrics) {
          const v = doc[m.Name];
          if (v === undefined) continue;
          this.put(directive.Namespace, m.Name, dims, Array.isArray(v) ? v.map(Number) : Number(v), at);
        }
      }
    }
  }

  async measure(
    queries: readonly MetricQuery[],
    window: TimeWindow,
  ): Promise<Record<string, number | undefined>> {
    this.calls.push({ queries, window });
    const out: Record<string, number | undefined> = {};
    for (const q of queries) {
      const key = dimsKey(q.dimensions);
      const values = this.datapoints
        .filter(
          (d) =>
            d.namespace === q.namespace &&
            d.metricName === q.metricName &&
            d.dims === key &&
            d.at >= window.start &&
            d.at < window.end,
        )
        .map((d) => d.value);
      out[q.id] = values.length ? stat(q.stat, values) : undefined;
    }
    return out;
  }
}

function stat(s: MetricQuery['stat'], values: number[]): number {
  switch (s) {
    case 'Sum':
      return values.reduce((a, b) => a + b, 0);
    case 'SampleCount':
      return values.length;
    case 'Average':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'Maximum':
      return Math.max(...values);
    case 'p95': {
      const sorted = [...values].sort((a, b) => a - b);
      return sorted[Math.max(0, Math.ceil(0.95 * sorted.length) - 1)]!;
    }
  }
}
