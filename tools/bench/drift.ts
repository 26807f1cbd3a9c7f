// Drift report benchmark (issue 18): GET /model/{id}/drift against a dry-run
// rebalance of the same model (N portfolios × 100 holdings), the compiled
// service in its own process against the realistic simulator. Both read the
// same upstreams; after a warm-up dry run (caches warm), each is timed twice,
// alternating, and the faster of the two kept.
import { type Simulator, startSimulator } from '../simulator/simulator.js';
import { cpuSeconds } from './cpu.js';
import { createBenchModel, startService } from './end-to-end.js';

export interface DriftRow {
  readonly portfolios: number;
  readonly holdings: number;
  readonly driftWallSeconds: number;
  readonly driftServiceCpuSeconds: number;
  readonly dryRunWallSeconds: number;
  readonly dryRunServiceCpuSeconds: number;
  readonly outOfBand: number;
  readonly unvalued: number;
}

async function request(method: string, url: string, body?: unknown): Promise<Response> {
  return fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
  });
}

async function timed(pid: number, call: () => Promise<Response>): Promise<{ seconds: number; cpu: number; text: string }> {
  const cpuBefore = await cpuSeconds(pid);
  const started = performance.now();
  const res = await call();
  const text = await res.text();
  if (res.status !== 200) throw new Error(`answered ${res.status}: ${text.slice(0, 500)}`);
  return { seconds: (performance.now() - started) / 1000, cpu: (await cpuSeconds(pid)) - cpuBefore, text };
}

export async function benchDrift(sizes: readonly number[], log: (line: string) => void): Promise<DriftRow[]> {
  const rows: DriftRow[] = [];
  for (const portfolios of sizes) {
    let sim: Simulator | null = null;
    let service: Awaited<ReturnType<typeof startService>> | null = null;
    try {
      sim = await startSimulator({ seed: 7, securities: 500, portfolios, holdings: 100 });
      service = await startService(sim);
      const url = service.url;
      const modelId = await createBenchModel(url, sim, `Drift ${portfolios}`);
      const pid = service.child.pid!;
      const dry = () => request('POST', `${url}/api/v1/model/${modelId}/rebalance?dry_run=true`);
      const drift = () => request('GET', `${url}/api/v1/model/${modelId}/drift?sort_by=-total_drift`);
      await timed(pid, dry); // warm-up: caches and code paths
      const drifts = [];
      const dries = [];
      for (let i = 0; i < 2; i++) {
        drifts.push(await timed(pid, drift));
        dries.push(await timed(pid, dry));
      }
      const best = (runs: { seconds: number; cpu: number }[]) => runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
      const d = best(drifts);
      const r = best(dries);
      const summary = JSON.parse(drifts[0]!.text).summary as { out_of_band: number; unvalued: number };
      const row: DriftRow = {
        portfolios,
        holdings: 100,
        driftWallSeconds: d.seconds,
        driftServiceCpuSeconds: d.cpu,
        dryRunWallSeconds: r.seconds,
        dryRunServiceCpuSeconds: r.cpu,
        outOfBand: summary.out_of_band,
        unvalued: summary.unvalued,
      };
      rows.push(row);
      log(
        `drift: ${portfolios} portfolios: report ${row.driftWallSeconds.toFixed(2)} s (CPU ${row.driftServiceCpuSeconds.toFixed(2)} s), ` +
          `dry run ${row.dryRunWallSeconds.toFixed(2)} s (CPU ${row.dryRunServiceCpuSeconds.toFixed(2)} s)`,
      );
    } catch (error) {
      log(`drift: ${portfolios} portfolios FAILED: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      await service?.stop();
      await sim?.stop();
    }
  }
  return rows;
}
