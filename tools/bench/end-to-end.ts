// End-to-end benchmark (issue 5): the service (compiled, its own process, its
// own embedded database) and the simulator on this machine, realistic as it is
// by default (unpriced securities, closed positions, new portfolios, moving
// prices); a model of N portfolios of 100 holdings rebalanced through the HTTP
// API and persisted, with the upstream calls counted per service.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { type Simulator, startSimulator } from '../simulator/simulator.js';
import { cpuSeconds } from './cpu.js';

export interface EndToEndRow {
  readonly portfolios: number;
  readonly holdings: number;
  /** Stored (the real call). */
  readonly wallSeconds: number;
  readonly portfoliosPerSecond: number;
  /** CPU seconds of the service process, and of its embedded database process. */
  readonly serviceCpuSeconds: number;
  readonly databaseCpuSeconds: number;
  /** The same model with ?dry_run=true: everything but the database. */
  readonly dryRunWallSeconds: number;
  readonly dryRunServiceCpuSeconds: number;
  readonly responseMiB: number;
  readonly infeasible: number;
  /** Portfolios of the model with no balances yet (the realistic book has some). */
  readonly newPortfolios: number;
  /** Calls of the stored run (caches warmed by the dry run before it). */
  readonly upstreamCalls: Record<string, number>;
  /** Calls of the dry run, the first of the service's life: cold caches. */
  readonly coldUpstreamCalls: Record<string, number>;
  /** The same, per route. */
  readonly coldUpstreamRoutes: Record<string, Record<string, number>>;
  /** accounting <= P + new portfolios, security and pricing <= 2 + misses (none in this book), on both runs. */
  readonly callTargetsMet: boolean;
  readonly peakRssMiB: number;
}

/** The embedded database the service started (a child process), if any. */
export function databasePid(servicePid: number): number | null {
  try {
    const out = execFileSync('pgrep', ['-P', String(servicePid), 'jongodb'])
      .toString()
      .trim();
    return out === '' ? null : Number(out.split('\n')[0]);
  } catch {
    return null;
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Peak resident set (VmHWM) of a process and its children, in MiB (Linux). */
export async function peakRssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /VmHWM:\s+(\d+) kB/.exec(status);
  return match === null ? NaN : Number(match[1]) / 1024;
}

export interface RunningService {
  readonly url: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts the compiled service (npm run build first) against the simulator. */
export async function startService(sim: Simulator, env: Record<string, string> = {}): Promise<RunningService> {
  const port = await freePort();
  // BENCH_SERVICE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the service. With BENCH_SERVICE_LOGS=1,
  // BENCH_LOG_LEVEL=info puts each request's log lines among what the flags print (--trace-opt: where a run starts).
  const nodeArgs = (process.env.BENCH_SERVICE_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const child = spawn(process.execPath, [...nodeArgs, '--import', './dist/src/telemetry/preload.js', 'dist/src/server.js'], {
    env: {
      ...process.env,
      ...sim.env(),
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
      RATE_LIMIT_MAX: '1000000',
      ...env,
    },
    stdio: ['ignore', process.env.BENCH_SERVICE_LOGS ? 'inherit' : 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    try {
      const res = await fetch(`${url}/health/ready`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null) throw new Error(`the service exited with ${child.exitCode}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** A model of 90 positions at 1% and 10 at 0.5% over the simulator's first 100 priced securities. */
export function benchModelPositions(sim: Simulator) {
  const priced = sim.book.pricedSecurityIds();
  return Array.from({ length: 100 }, (_, i) => ({
    security_id: priced[i]!,
    target: i < 90 ? '0.01' : '0.005',
    low_drift: '0.05',
    high_drift: '0.05',
  }));
}

async function post(url: string, body?: unknown): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
  });
}

/** The benchmark model (benchModelPositions) over every portfolio of the simulator, created on the service; its id. */
export async function createBenchModel(serviceUrl: string, sim: Simulator, name: string): Promise<string> {
  const created = await fetch(`${serviceUrl}/api/v1/models`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, positions: benchModelPositions(sim), portfolios: sim.book.portfolioIds() }),
  });
  if (created.status !== 201) throw new Error(`model creation failed: ${created.status} ${await created.text()}`);
  return ((await created.json()) as { model_id: string }).model_id;
}

export async function benchEndToEnd(sizes: readonly number[], log: (line: string) => void): Promise<EndToEndRow[]> {
  const rows: EndToEndRow[] = [];
  for (const portfolios of sizes) {
    const sim = await startSimulator({ seed: 7, securities: 500, portfolios, holdings: 100 });
    const service = await startService(sim);
    try {
      const modelId = await createBenchModel(service.url, sim, `Bench ${portfolios}`);
      const pid = service.child.pid!;
      const db = databasePid(pid);

      /** Rebalances the model and reads the streamed answer, counting without holding it. */
      const run = async (query: string) => {
        const cpuBefore = await cpuSeconds(pid);
        const dbBefore = db === null ? 0 : await cpuSeconds(db);
        const started = performance.now();
        const res = await post(`${service.url}/api/v1/model/${modelId}/rebalance${query}`);
        if (res.status !== 200) throw new Error(`rebalance answered ${res.status}: ${await res.text()}`);
        let bytes = 0;
        let infeasible = 0;
        const decoder = new TextDecoder();
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          bytes += chunk.byteLength;
          infeasible += decoder.decode(chunk, { stream: true }).split('"status":"infeasible"').length - 1;
        }
        return {
          seconds: (performance.now() - started) / 1000,
          cpu: (await cpuSeconds(pid)) - cpuBefore,
          dbCpu: db === null ? NaN : (await cpuSeconds(db)) - dbBefore,
          bytes,
          infeasible,
        };
      };

      const callsSoFar = () =>
        Object.fromEntries(
          Object.entries(sim.counts()).map(([service, routes]) => [service, Object.values(routes).reduce((a, b) => a + b, 0)]),
        );
      sim.resetCounts();
      const dry = await run('?dry_run=true');
      const coldUpstreamCalls = callsSoFar();
      const coldUpstreamRoutes = sim.counts();
      sim.resetCounts();
      const stored = await run('');
      const upstreamCalls = callsSoFar();
      const newPortfolios = sim.book.portfolioIds().filter((id) => sim.book.holdings(id) === null).length;
      const met = (calls: Record<string, number>) =>
        (calls.accounting ?? 0) <= portfolios + newPortfolios && (calls.security ?? 0) <= 2 && (calls.pricing ?? 0) <= 2;
      const row: EndToEndRow = {
        portfolios,
        holdings: 100,
        wallSeconds: stored.seconds,
        portfoliosPerSecond: portfolios / stored.seconds,
        serviceCpuSeconds: stored.cpu,
        databaseCpuSeconds: stored.dbCpu,
        dryRunWallSeconds: dry.seconds,
        dryRunServiceCpuSeconds: dry.cpu,
        responseMiB: stored.bytes / 2 ** 20,
        infeasible: stored.infeasible,
        newPortfolios,
        upstreamCalls,
        coldUpstreamCalls,
        coldUpstreamRoutes,
        callTargetsMet: met(coldUpstreamCalls) && met(upstreamCalls),
        peakRssMiB: await peakRssMiB(pid),
      };
      rows.push(row);
      log(
        `end to end: ${portfolios} portfolios stored in ${row.wallSeconds.toFixed(1)} s (dry run ${row.dryRunWallSeconds.toFixed(1)} s), ` +
          `peak RSS ${row.peakRssMiB.toFixed(0)} MiB; calls cold ${JSON.stringify(coldUpstreamRoutes)}, warm ${JSON.stringify(upstreamCalls)}; ` +
          `${newPortfolios} new portfolios; call targets ${row.callTargetsMet ? 'met' : 'MISSED'}`,
      );
    } catch (error) {
      // One size failing (the embedded database under load) does not lose the others.
      log(`end to end: ${portfolios} portfolios FAILED: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      await service.stop();
      await sim.stop();
    }
  }
  return rows;
}
