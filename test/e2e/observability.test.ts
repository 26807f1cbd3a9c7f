// What operators watch: the Grafana dashboard and the alert rules shipped in
// docker/observability name only metrics the service serves; /health/health
// turns "degraded" while a required upstream's circuit is open; every log line
// of a request carries its correlation id; probes and scrapes log at debug.
import { readFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createLogger } from '../../src/logger.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { gate } from '../helpers/clock.js';
import { json, pid, position, sid } from '../helpers/fixtures.js';
import { createWorld, type World } from '../helpers/rebalancing.js';

let t: TestApp | undefined;
let w: World | undefined;
afterEach(async () => {
  await t?.close();
  await w?.close();
  t = undefined;
  w = undefined;
});

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFile(new URL(path, root), 'utf8');

/** Words of PromQL that are not metric names. */
const PROMQL_WORDS = new Set(
  (
    'sum avg min max count stddev stdvar topk bottomk quantile count_values group by without on ignoring group_left group_right ' +
    'bool and or unless offset rate irate increase delta idelta deriv histogram_quantile clamp_min clamp_max abs ceil floor round ' +
    'label_replace label_join vector scalar time absent absent_over_time avg_over_time max_over_time min_over_time sum_over_time ' +
    'count_over_time last_over_time changes resets sort sort_desc humanizePercentage inf nan'
  ).split(' '),
);

/** Every metric name a PromQL expression reads (label matchers, grouping labels, ranges and functions left out). */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // string literals
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // ranges ([5m], [$__rate_interval])
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' '); // grouping labels
  const names = new Set<string>();
  for (const match of bare.matchAll(/(?<![\w$.])([A-Za-z_:][\w:]*)(\s*\()?/g)) {
    const [, word, call] = match;
    if (call !== undefined || PROMQL_WORDS.has(word!.toLowerCase())) continue;
    names.add(word!);
  }
  return [...names];
}

/** The metric names with at least one sample in an exposition text (histograms by their _bucket/_sum/_count series). */
function served(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const name = /^[A-Za-z_:][\w:]*/.exec(line)?.[0];
    if (name !== undefined) names.add(name);
  }
  return names;
}

/** A log destination the test can read, one parsed line per entry. */
function logSink(): { lines: string[]; sink: Writable } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(
        ...chunk
          .toString()
          .split('\n')
          .filter((l) => l !== ''),
      );
      done();
    },
  });
  return { lines, sink };
}

describe('docker/observability: the Grafana dashboard and the Prometheus alert rules', () => {
  it('name only metrics that GET /metrics serves once a rebalance, a cycle and an order submission ran', async () => {
    // The reader of PromQL itself first.
    expect(
      metricNames('histogram_quantile(0.95, sum by (le, path) (rate(http_request_duration_bucket{path!~"/health/.*"}[$__rate_interval])))'),
    ).toEqual(['http_request_duration_bucket']);
    expect(metricNames('sum(rate(a_total{status=~"5.."}[5m])) / sum(rate(b_total[5m])) > 0.05')).toEqual(['a_total', 'b_total']);
    expect(metricNames('max by (service) (upstream_circuit_state{state="open"}) == 1')).toEqual(['upstream_circuit_state']);
    const dashboard = JSON.parse(await read('docker/observability/grafana-dashboard.json'));
    const panels = dashboard.panels.flatMap((p: { panels?: unknown[] }) => [p, ...(p.panels ?? [])]);
    const dashboardExprs: string[] = panels.flatMap((p: { targets?: { expr: string }[] }) =>
      (p.targets ?? []).map((target) => target.expr),
    );
    const rules = parse(await read('docker/observability/prometheus-alerts.yaml'));
    const alerts = rules.groups.flatMap((g: { rules: { alert: string; expr: string }[] }) => g.rules);
    expect(alerts.map((r: { alert: string }) => r.alert).sort()).toEqual(
      [
        'OrderGenerationCycleNotSucceeded',
        'OrderGenerationHigh5xxRate',
        'OrderGenerationRebalanceFailures',
        'OrderGenerationOrderSubmissionUnknown',
        'OrderGenerationPortfoliosOutOfBand',
        'OrderGenerationUpstreamCircuitOpen',
      ].sort(),
    );
    for (const rule of alerts) expect(rule.expr, rule.alert).toEqual(expect.any(String));
    expect(dashboardExprs.length).toBeGreaterThanOrEqual(15);

    // A retry (accounting), a circuit that opens (the optional Portfolio service), a stored
    // model rebalance, a cycle and an order submission, so every labelled series exists.
    w = await createWorld({ CIRCUIT_FAILURE_THRESHOLD: '2' });
    w.security(sid('k1'), 'KIT', '20');
    for (const p of ['k1', 'k2']) w.holdings(pid(p), { cash: '10000', securities: [] });
    const model = await w.model('Kit', [position(sid('k1'), '0.5')], [pid('k1'), pid('k2')]);
    w.sim.inject('accounting', { status: 503, retryAfterSeconds: 0, times: 1 });
    w.sim.inject('portfolio', { status: 500 });
    const rebalanced = await w.t.request({ method: 'POST', url: `/api/v1/model/${model}/rebalance` });
    expect(rebalanced.statusCode).toBe(200);
    const stored = json(await w.t.request({ method: 'GET', url: '/api/v1/rebalances' }))[0];
    expect((await w.t.request({ method: 'POST', url: `/api/v1/rebalance/${stored.rebalance_id}/submit` })).statusCode).toBe(200);
    expect(await w.t.app.scheduler.runOnce()).toMatchObject({ status: 'succeeded' });
    const text = (await w.t.request({ method: 'GET', url: '/metrics' })).body;
    const available = served(text);

    const referenced = new Map<string, string>();
    for (const expr of dashboardExprs) for (const name of metricNames(expr)) referenced.set(name, `dashboard: ${expr}`);
    for (const rule of alerts) for (const name of metricNames(rule.expr)) referenced.set(name, `alert ${rule.alert}: ${rule.expr}`);
    for (const want of [
      'http_requests_total',
      'http_request_duration_bucket',
      'rebalances_total',
      'solver_duration_ms_bucket',
      'upstream_circuit_state',
      'rebalance_cycles_total',
      'orders_submitted_total',
      'drift_out_of_band_cycles',
    ]) {
      expect([...referenced.keys()], 'the kit covers requests, latency, rebalances, the solver, circuits, cycles and orders').toContain(
        want,
      );
    }
    for (const [name, where] of referenced) expect(available.has(name), `${name} (${where}) is not in /metrics`).toBe(true);
  });
});

describe('/health/health and the upstream circuits', () => {
  it('is "degraded" (200) while a required service\'s circuit is open, not while the optional Portfolio service\'s is', async () => {
    w = await createWorld({ CIRCUIT_FAILURE_THRESHOLD: '2', UPSTREAM_RETRIES: '1' });
    w.security(sid('h1'), 'HLT', '20');
    for (const p of ['h1', 'h2']) w.holdings(pid(p), { cash: '10000', securities: [] });
    const model = await w.model('Health', [position(sid('h1'), '0.5')], [pid('h1'), pid('h2')]);
    const health = async () => {
      const res = await w!.t.request({ method: 'GET', url: '/health/health' });
      expect(res.statusCode).toBe(200);
      return json(res);
    };
    expect((await health()).status).toBe('ok');

    // The Portfolio service only names portfolios: its open circuit degrades nothing.
    w.sim.inject('portfolio', { status: 500 });
    expect((await w.t.request({ method: 'POST', url: `/api/v1/model/${model}/rebalance` })).statusCode).toBe(200);
    const portfolioDown = await health();
    expect(portfolioDown.upstreams.portfolio.circuit).toBe('open');
    expect(portfolioDown.status).toBe('ok');
    expect(portfolioDown.degraded).toBeUndefined();

    w.sim.inject('accounting', { status: 500 });
    for (const p of ['h1', 'h2']) await w.t.request({ method: 'POST', url: `/api/v1/portfolio/${pid(p)}/rebalance` });
    const accountingDown = await health();
    expect(accountingDown.status).toBe('degraded');
    expect(accountingDown.upstreams.accounting.circuit).toBe('open');
    expect(accountingDown.degraded).toEqual([
      { upstream: 'accounting', circuit: 'open', message: expect.stringContaining('Portfolio Accounting') },
    ]);
  });
});

describe('logs', () => {
  it('puts the correlation id on every line of a request, retries and the stored line included, and names the upstream as `upstream`', async () => {
    const { lines, sink } = logSink();
    w = await createWorld({ LOG_LEVEL: 'debug' }, { logger: createLogger({ logLevel: 'debug' }, sink) });
    w.security(sid('l1'), 'LOG', '20');
    w.holdings(pid('l1'), { cash: '10000', securities: [] });
    const model = await w.model('Logged', [position(sid('l1'), '0.5')], [pid('l1')]);
    w.sim.inject('accounting', { status: 503, retryAfterSeconds: 0, times: 1 });
    const from = lines.length;
    const res = await w.t.request({
      method: 'POST',
      url: `/api/v1/model/${model}/rebalance`,
      headers: { 'x-correlation-id': 'trace-me-42' },
    });
    expect(res.statusCode).toBe(200);

    const raw = lines.slice(from);
    const logged = raw.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(logged.map((l) => l.msg)).toEqual(
      expect.arrayContaining(['incoming request', 'retrying upstream call', 'rebalance stored', 'request completed']),
    );
    for (const line of logged) expect(line.correlation_id, JSON.stringify(line)).toBe('trace-me-42');
    // One `service` key per line (the service's own name); the upstream is `upstream`.
    for (const line of raw) expect(line.match(/"service":/g), line).toHaveLength(1);
    for (const line of raw) expect(line.match(/"correlation_id":/g), line).toHaveLength(1);
    expect(logged.find((l) => l.msg === 'retrying upstream call')).toMatchObject({
      service: 'globeco-order-generation-service',
      upstream: 'accounting',
      level: 'warn',
    });
  });

  it('logs probes and scrapes at debug, other requests at info', async () => {
    const { lines, sink } = logSink();
    t = await createTestApp({ LOG_LEVEL: 'debug' }, { logger: createLogger({ logLevel: 'debug' }, sink) });
    const from = lines.length;
    for (const url of ['/health/live', '/health/ready', '/health/health', '/metrics', '/api/v1/models']) {
      expect((await t.request({ method: 'GET', url })).statusCode, url).toBe(200);
    }
    const logged = lines
      .slice(from)
      .map((line) => JSON.parse(line) as { level: string; msg: string; req?: { url: string }; correlation_id: string });
    const requestLines = logged.filter((l) => l.msg === 'incoming request' || l.msg === 'request completed');
    const urls = new Map(logged.filter((l) => l.req !== undefined).map((l) => [l.correlation_id, l.req!.url]));
    const levels = requestLines.map((l) => `${urls.get(l.correlation_id)} ${l.msg} ${l.level}`);
    expect(levels).toEqual([
      '/health/live incoming request debug',
      '/health/live request completed debug',
      '/health/ready incoming request debug',
      '/health/ready request completed debug',
      '/health/health incoming request debug',
      '/health/health request completed debug',
      '/metrics incoming request debug',
      '/metrics request completed debug',
      '/api/v1/models incoming request info',
      '/api/v1/models request completed info',
    ]);
  });
});

describe('progress of a running model rebalance', () => {
  it('a log line every few seconds (done/total, rate, time left) and a gauge of its portfolios in flight', async () => {
    const { lines, sink } = logSink();
    w = await createWorld(
      { REBALANCE_CONCURRENCY: '2', REBALANCE_PROGRESS_LOG_MS: '20' },
      { logger: createLogger({ logLevel: 'info' }, sink) },
    );
    w.security(sid('pg'), 'PRG', '10');
    const portfolios = Array.from({ length: 6 }, (_, i) => pid(`pg${i}`));
    for (const p of portfolios) w.holdings(p, { cash: '1000', securities: [] });
    const model = await w.model('Progress', [position(sid('pg'), '0.5')], portfolios);
    const held = gate();
    // Two portfolios done, the next two held: two in flight.
    w.sim.inject('accounting', { after: 2, times: 2, hold: held.hold });
    const answer = w.t.request({ method: 'POST', url: `/api/v1/model/${model}/rebalance` });
    await held.arrived;
    const progressLines = () =>
      lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => String(l.msg).startsWith('rebalance progress'));
    await expect.poll(() => progressLines().some((l) => l.done === 2 && l.inFlight === 2), { timeout: 20_000, interval: 20 }).toBe(true);
    expect(progressLines().find((l) => l.done === 2)).toMatchObject({
      modelId: model,
      rebalanceId: expect.stringMatching(/^[0-9a-f]{24}$/),
      done: 2,
      total: 6,
      portfoliosPerSecond: expect.any(Number),
      etaSeconds: expect.any(Number),
      msg: expect.stringMatching(/^rebalance progress 2\/6 portfolios, [\d.]+\/s, about \d+ s left$/),
    });
    const metrics = (await w.t.request({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(new RegExp(`^rebalance_portfolios_in_flight\\{rebalance_id="[0-9a-f]{24}",model_id="${model}"\\} 2$`, 'm'));
    held.open();
    expect((await answer).statusCode).toBe(200);
    const after = (await w.t.request({ method: 'GET', url: '/metrics' })).body;
    expect(after).not.toMatch(/^rebalance_portfolios_in_flight\{/m);
  });
});
