// OpenTelemetry, through the real server process started as `npm start` starts
// it (node --import the telemetry preload): the spans of one model rebalance
// reach an in-process OTLP/HTTP receiver with their parent-child structure,
// the trace context reaches the upstreams and the log lines, and without
// OTEL_* nothing of the SDK is loaded.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../tools/bench/end-to-end.js';
import { type Simulator, startSimulator } from '../../tools/simulator/simulator.js';
import { pid, position, sid } from '../helpers/fixtures.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: OtlpAttribute[];
}

/** An OTLP/HTTP collector in JSON (OTEL_EXPORTER_OTLP_PROTOCOL=http/json): keeps every body it receives, by path. */
async function startReceiver() {
  const received: { path: string; body: unknown }[] = [];
  const server: HttpServer = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body: JSON.parse(text) as unknown });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    spans: (): OtlpSpan[] =>
      received
        .filter((r) => r.path === '/v1/traces')
        .flatMap((r) => (r.body as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] }).resourceSpans)
        .flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)),
    metricNames: (): string[] =>
      received
        .filter((r) => r.path === '/v1/metrics')
        .flatMap((r) => (r.body as { resourceMetrics: { scopeMetrics: { metrics: { name: string }[] }[] }[] }).resourceMetrics)
        .flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics.map((m) => m.name))),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
type Receiver = Awaited<ReturnType<typeof startReceiver>>;

const attr = (span: OtlpSpan, key: string) => {
  const value = span.attributes.find((a) => a.key === key)?.value;
  return value?.stringValue ?? value?.intValue ?? value?.boolValue ?? value?.doubleValue;
};

let sim: Simulator | undefined;
let receiver: Receiver | undefined;
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  await sim?.stop();
  await receiver?.close();
  sim = undefined;
  receiver = undefined;
});

/** Reports, when the process exits, whether the OpenTelemetry SDK was ever loaded. */
const sdkProbe = `data:text/javascript,import Module from 'node:module'; process.on('exit', () => process.stdout.write(JSON.stringify({ msg: 'sdk probe', sdk_loaded: Object.keys(Module._cache).some((k) => k.includes('@opentelemetry/sdk-node')) }) + '\\n'));`;

/** The server as npm start runs it (the telemetry preload first), on a fresh database, with a model of three portfolios. */
async function startServer(env: Record<string, string>, preload = true) {
  sim = await startSimulator({ securities: 10, portfolios: 0, steadyPrices: true });
  const port = await freePort();
  let out = '';
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--import', sdkProbe, ...(preload ? ['--import', './src/telemetry/preload.ts'] : []), 'src/server.ts'],
    {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        ...sim.env(),
        PORT: String(port),
        MONGODB_URI: inject('mongoUri'),
        MONGODB_DB: `test_${randomBytes(6).toString('hex')}`,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (
      await fetch(`${url}/health/ready`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (child.exitCode !== null) throw new Error(`the server exited:\n${out}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  for (const [name, ticker, price] of [
    ['a', 'AAA', '10'],
    ['b', 'BBB', '20'],
  ] as const) {
    sim.book.setSecurity(sid(name), ticker);
    sim.book.setPrice(ticker, price);
  }
  const portfolios = ['t1', 't2', 't3'].map(pid);
  for (const p of portfolios) sim.book.setHoldings(p, { cash: '10000', securities: [] });
  const created = await fetch(`${url}/api/v1/models`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Traced', positions: [position(sid('a'), '0.4'), position(sid('b'), '0.4')], portfolios }),
  });
  expect(created.status).toBe(201);
  const modelId = ((await created.json()) as { model_id: string }).model_id;
  return {
    url,
    modelId,
    portfolios,
    exited,
    logLines: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    /** SIGTERM, then the exit code (buffered spans and metrics are sent on the way out). */
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** A caller's W3C trace context. */
const callerTrace = () => {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
};

describe('OpenTelemetry', () => {
  it("exports the spans of a model rebalance, under the caller's trace, to the OTLP collector", async () => {
    receiver = await startReceiver();
    const server = await startServer({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '50',
      TRACE_PORTFOLIO_SPANS: '2',
    });
    const caller = callerTrace();

    const res = await fetch(`${server.url}/api/v1/model/${server.modelId}/rebalance`, {
      method: 'POST',
      headers: { traceparent: caller.traceparent },
    });
    expect(res.status).toBe(200);
    await res.text();
    expect(await server.stop()).toBe(0);

    const spans = receiver.spans().filter((s) => s.traceId === caller.traceId);
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const ancestors = (span: OtlpSpan): OtlpSpan[] => {
      const parent = span.parentSpanId === undefined ? undefined : byId.get(span.parentSpanId);
      return parent === undefined ? [] : [parent, ...ancestors(parent)];
    };
    // The request: the HTTP server span is the caller's child and knows its route.
    const request = spans.find((s) => s.kind === 2);
    expect(request).toBeDefined();
    expect(request!.parentSpanId).toBe(caller.spanId);
    expect(attr(request!, 'http.route')).toBe('/api/v1/model/:model_id/rebalance');
    // The rebalance, inside the request.
    const rebalance = spans.find((s) => s.name === 'rebalance');
    expect(rebalance).toBeDefined();
    expect(ancestors(rebalance!)).toContain(request);
    expect(attr(rebalance!, 'rebalance.model_id')).toBe(server.modelId);
    expect(attr(rebalance!, 'rebalance.portfolios')).toEqual(expect.anything());
    // One span per portfolio up to TRACE_PORTFOLIO_SPANS, each the rebalance's child.
    const portfolioSpans = spans.filter((s) => s.name === 'rebalance.portfolio');
    expect(portfolioSpans).toHaveLength(2);
    for (const span of portfolioSpans) {
      expect(span.parentSpanId).toBe(rebalance!.spanId);
      expect(server.portfolios).toContain(attr(span, 'rebalance.portfolio_id'));
      const children = spans.filter((s) => s.parentSpanId === span.spanId);
      // Its Accounting call (a client span of undici) and its solve.
      const holdings = children.find(
        (s) => s.kind === 3 && String(attr(s, 'url.full')).includes(String(attr(span, 'rebalance.portfolio_id'))),
      );
      expect(holdings).toBeDefined();
      expect(attr(holdings!, 'http.response.status_code')).toEqual(expect.anything());
      expect(children.filter((s) => s.name === 'rebalance.solve')).toHaveLength(1);
    }
    // MongoDB operations of the rebalance (its writes), in the same trace.
    const mongo = spans.filter((s) => attr(s, 'db.system') === 'mongodb' || attr(s, 'db.system.name') === 'mongodb');
    expect(mongo.some((s) => ancestors(s).includes(rebalance!))).toBe(true);

    // The upstreams received the trace context: the caller's trace, each call's own span.
    const sent = sim!.traceparents().filter((t) => t.traceparent.split('-')[1] === caller.traceId);
    expect(sent.length).toBeGreaterThan(0);
    for (const t of sent) expect(byId.has(t.traceparent.split('-')[2]!)).toBe(true);
    // Log lines written in the request carry its trace.
    const stored = server.logLines().find((l) => l.msg === 'rebalance stored');
    expect(stored).toMatchObject({ trace_id: caller.traceId, span_id: expect.any(String) });
    // The /metrics figures went over OTLP too.
    expect(receiver.metricNames()).toEqual(expect.arrayContaining(['rebalances_total', 'http_request_duration', 'solver_duration_ms']));
    expect(server.logLines().find((l) => l.msg === 'sdk probe')).toMatchObject({ sdk_loaded: true });
  }, 60_000);

  it('without OTEL_* set loads no SDK: no trace context sent upstream, no trace_id in the logs', async () => {
    const server = await startServer({});
    const caller = callerTrace();
    const res = await fetch(`${server.url}/api/v1/model/${server.modelId}/rebalance`, {
      method: 'POST',
      headers: { traceparent: caller.traceparent },
    });
    expect(res.status).toBe(200);
    await res.text();
    expect(await server.stop()).toBe(0);
    expect(sim!.total('accounting')).toBeGreaterThan(0);
    expect(sim!.traceparents()).toEqual([]);
    const lines = server.logLines();
    expect(lines.find((l) => l.msg === 'rebalance stored')).toBeDefined();
    expect(lines.filter((l) => 'trace_id' in l)).toEqual([]);
    expect(lines.find((l) => l.msg === 'sdk probe')).toMatchObject({ sdk_loaded: false });
  });

  it('warns at start-up when OTEL_* are set but the process was started without the preload', async () => {
    const server = await startServer({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' }, false);
    expect(await server.stop()).toBe(0);
    const warning = server.logLines().find((l) => l.level === 'warn' && String(l.msg).includes('--import ./dist/src/telemetry/preload.js'));
    expect(warning).toBeDefined();
  });

  it('with OTEL_SDK_DISABLED=true sends nothing to the collector it names', async () => {
    receiver = await startReceiver();
    const server = await startServer({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SDK_DISABLED: 'true' });
    const res = await fetch(`${server.url}/api/v1/model/${server.modelId}/rebalance`, { method: 'POST' });
    expect(res.status).toBe(200);
    await res.text();
    expect(await server.stop()).toBe(0);
    expect(sim!.traceparents()).toEqual([]);
    expect(receiver.received).toEqual([]);
    expect(server.logLines().find((l) => l.msg === 'sdk probe')).toMatchObject({ sdk_loaded: false });
  });
});
