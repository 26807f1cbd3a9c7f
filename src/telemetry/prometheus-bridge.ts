// Our prom-client registry, read at each OTLP metrics export: counters become
// cumulative monotonic sums, gauges gauges, histograms explicit-bucket
// histograms, under the same names and labels as GET /metrics.
import type { HrTime } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import {
  AggregationTemporality,
  type CollectionResult,
  DataPointType,
  type MetricData,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';
import { resources } from '@opentelemetry/sdk-node';
import type { Registry } from 'prom-client';
import { telemetry } from './state.js';

type PromMetric = Awaited<ReturnType<Registry['getMetricsAsJSON']>>[number];
type PromValue = PromMetric['values'][number] & { readonly metricName?: string };

const hrTime = (ms: number): HrTime => [Math.floor(ms / 1000), Math.round((ms % 1000) * 1e6)];

type Labels = Record<string, string | number>;

/** Turns one prom-client metric into OTLP metric data (summaries are left out: OTLP has no summary to write). */
export function toMetricData(metric: PromMetric, start: HrTime, now: HrTime): MetricData | null {
  const base = {
    descriptor: { name: metric.name, description: metric.help, unit: '', valueType: ValueType.DOUBLE },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
  };
  const points = () =>
    metric.values.map((value: PromValue) => ({ startTime: start, endTime: now, attributes: value.labels, value: value.value }));
  switch (metric.type as unknown as string) {
    case 'counter':
      return { ...base, dataPointType: DataPointType.SUM, isMonotonic: true, dataPoints: points() };
    case 'gauge':
      return { ...base, dataPointType: DataPointType.GAUGE, dataPoints: points() };
    case 'histogram':
      return { ...base, dataPointType: DataPointType.HISTOGRAM, dataPoints: histogramPoints(metric.values, start, now) };
    default:
      return null;
  }
}

/** prom-client gives cumulative `le` buckets plus _sum and _count per label set; OTLP wants per-bucket counts. */
function histogramPoints(values: readonly PromValue[], start: HrTime, now: HrTime) {
  const series = new Map<string, { labels: Labels; buckets: [number, number][]; sum: number; count: number }>();
  for (const value of values) {
    const { le: _le, ...labels } = value.labels as Labels;
    const key = JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
    let one = series.get(key);
    if (one === undefined) {
      one = { labels, buckets: [], sum: 0, count: 0 };
      series.set(key, one);
    }
    if (value.metricName?.endsWith('_bucket') === true) one.buckets.push([Number(value.labels.le), value.value]);
    else if (value.metricName?.endsWith('_sum') === true) one.sum = value.value;
    else if (value.metricName?.endsWith('_count') === true) one.count = value.value;
  }
  return [...series.values()].map(({ labels, buckets, sum, count }) => {
    const sorted = buckets.sort(([a], [b]) => a - b);
    const boundaries = sorted.filter(([le]) => Number.isFinite(le)).map(([le]) => le);
    const cumulative = sorted.map(([, n]) => n);
    if (boundaries.length === cumulative.length) cumulative.push(count);
    const counts = cumulative.map((n, i) => n - (i === 0 ? 0 : cumulative[i - 1]!));
    return { startTime: start, endTime: now, attributes: labels, value: { buckets: { boundaries, counts }, sum, count } };
  });
}

/** A metric producer for the SDK's periodic reader. */
export function promClientProducer(): MetricProducer {
  const start = hrTime(Date.now());
  return {
    async collect(): Promise<CollectionResult> {
      const now = hrTime(Date.now());
      const metrics = (await telemetry.registry?.getMetricsAsJSON()) ?? [];
      return {
        resourceMetrics: {
          resource: resources.emptyResource(),
          scopeMetrics: [
            {
              scope: { name: 'prom-client' },
              metrics: metrics.map((m) => toMetricData(m, start, now)).filter((m): m is MetricData => m !== null),
            },
          ],
        },
        errors: [],
      };
    },
  };
}
