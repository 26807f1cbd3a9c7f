// The /metrics figures as OTLP metric data: what the OTLP export of the
// prom-client registry carries (names, labels, kinds, histogram buckets).
import { DataPointType, type GaugeMetricData, type HistogramMetricData, type SumMetricData } from '@opentelemetry/sdk-metrics';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { promClientProducer } from '../../src/telemetry/prometheus-bridge.js';
import { telemetry } from '../../src/telemetry/state.js';

afterEach(() => {
  telemetry.registry = undefined;
});

async function exported(registry: Registry) {
  telemetry.registry = registry;
  const { resourceMetrics } = await promClientProducer().collect();
  return new Map(resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).map((m) => [m.descriptor.name, m]));
}

describe('the prom-client registry over OTLP', () => {
  it('exports counters as monotonic sums and gauges as gauges, with their labels', async () => {
    const registry = new Registry();
    new Counter({ name: 'orders_total', help: 'orders', labelNames: ['status'], registers: [registry] }).inc({ status: 'ok' }, 2);
    new Gauge({ name: 'in_flight', help: 'now', registers: [registry] }).set(7);
    const metrics = await exported(registry);
    const counter = metrics.get('orders_total') as SumMetricData;
    expect(counter).toMatchObject({ dataPointType: DataPointType.SUM, isMonotonic: true, descriptor: { description: 'orders' } });
    expect(counter.dataPoints).toEqual([expect.objectContaining({ attributes: { status: 'ok' }, value: 2 })]);
    const gauge = metrics.get('in_flight') as GaugeMetricData;
    expect(gauge.dataPointType).toBe(DataPointType.GAUGE);
    expect(gauge.dataPoints.map((p) => p.value)).toEqual([7]);
  });

  it('exports a histogram per label set with per-bucket counts, its sum and count', async () => {
    const registry = new Registry();
    const histogram = new Histogram({ name: 'solve_ms', help: 'solves', labelNames: ['result'], buckets: [1, 5], registers: [registry] });
    for (const ms of [0.5, 3, 10]) histogram.observe({ result: 'optimal' }, ms);
    histogram.observe({ result: 'infeasible' }, 2);
    const metric = (await exported(registry)).get('solve_ms') as HistogramMetricData;
    expect(metric.dataPointType).toBe(DataPointType.HISTOGRAM);
    const byResult = Object.fromEntries(metric.dataPoints.map((p) => [p.attributes.result, p.value]));
    expect(byResult.optimal).toEqual({ buckets: { boundaries: [1, 5], counts: [1, 1, 1] }, sum: 13.5, count: 3 });
    expect(byResult.infeasible).toEqual({ buckets: { boundaries: [1, 5], counts: [0, 1, 0] }, sum: 2, count: 1 });
  });

  it('exports nothing before an app has registered its metrics', async () => {
    const { resourceMetrics } = await promClientProducer().collect();
    expect(resourceMetrics.scopeMetrics.flatMap((s) => s.metrics)).toEqual([]);
  });
});
