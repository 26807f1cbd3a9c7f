// The asynchronous path (issue 17): the same model of N portfolios x 100
// holdings as the end-to-end benchmark, rebalanced with ?async=true on a fresh
// service process: the time to the 202, the time until GET /rebalance/{id}
// says complete (polled every 500 ms), the time to read every portfolio in
// pages of 100 with their positions, and the service's peak RSS over all of
// it. With --sync, the synchronous call on a fresh service and database for
// comparison (time to its first byte and to its last: what an ingress timeout cuts).
import { startSimulator } from '../simulator/simulator.js';
import { cpuSeconds } from './cpu.js';
import { createBenchModel, peakRssMiB, startService } from './end-to-end.js';

export interface AsyncRow {
  readonly portfolios: number;
  readonly acceptedMs: number;
  readonly completeSeconds: number;
  readonly pagesSeconds: number;
  readonly pagesMiB: number;
  readonly serviceCpuSeconds: number;
  /** Peak RSS of the service through the asynchronous run and the reading of its pages (before the synchronous call). */
  readonly peakRssMiB: number;
  /** The synchronous call on a fresh service: first byte and last, in seconds; NaN when not run. */
  readonly syncFirstByteSeconds: number;
  readonly syncSeconds: number;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The synchronous call on a fresh simulator, service and database: seconds to its first byte and to its last. */
async function timeSync(portfolios: number): Promise<{ firstByte: number; last: number }> {
  const sim = await startSimulator({ seed: 7, securities: 500, portfolios, holdings: 100 });
  const service = await startService(sim);
  try {
    const modelId = await createBenchModel(service.url, sim, `Sync ${portfolios}`);
    const started = performance.now();
    const res = await fetch(`${service.url}/api/v1/model/${modelId}/rebalance`, { method: 'POST' });
    const firstByte = (performance.now() - started) / 1000;
    if (res.status !== 200) throw new Error(`sync rebalance answered ${res.status}: ${(await res.text()).slice(0, 600)}`);
    for await (const _ of res.body as unknown as AsyncIterable<Uint8Array>) {
      // read to the end, holding nothing
    }
    return { firstByte, last: (performance.now() - started) / 1000 };
  } finally {
    await service.stop();
    await sim.stop();
  }
}

export async function benchAsync(sizes: readonly number[], withSync: boolean, log: (line: string) => void): Promise<AsyncRow[]> {
  const rows: AsyncRow[] = [];
  for (const portfolios of sizes) {
    const sim = await startSimulator({ seed: 7, securities: 500, portfolios, holdings: 100 });
    const service = await startService(sim);
    try {
      const modelId = await createBenchModel(service.url, sim, `Async ${portfolios}`);
      const pid = service.child.pid!;
      const cpuBefore = await cpuSeconds(pid);

      const started = performance.now();
      const accepted = await fetch(`${service.url}/api/v1/model/${modelId}/rebalance?async=true`, { method: 'POST' });
      const acceptedMs = performance.now() - started;
      if (accepted.status !== 202) throw new Error(`async rebalance answered ${accepted.status}: ${await accepted.text()}`);
      const location = accepted.headers.get('location')!;
      let status = 'running';
      let lastLog = 0;
      while (status === 'running') {
        await pause(500);
        const res = await fetch(`${service.url}${location}`);
        // A complete one is the whole stored rebalance: read only its status, then drop the body.
        const reader = res.body!.getReader();
        const first = new TextDecoder().decode((await reader.read()).value);
        await reader.cancel();
        status = /"status":"(\w+)"/.exec(first)?.[1] ?? (first.includes('"portfolios":') ? 'complete' : 'running');
        if (status === 'running' && performance.now() - lastLog > 10_000) {
          lastLog = performance.now();
          log(`async ${portfolios}: ${/"progress":(\{[^}]*\})/.exec(first)?.[1] ?? ''}`);
        }
      }
      const completeSeconds = (performance.now() - started) / 1000;
      if (status !== 'complete') {
        const ended = await (await fetch(`${service.url}${location}`)).text();
        throw new Error(`the asynchronous rebalance ended ${status}: ${ended.slice(0, 600)}`);
      }

      const id = location.split('/').at(-1)!;
      const pagesStarted = performance.now();
      let bytes = 0;
      for (let offset = 0; offset < portfolios; offset += 100) {
        const page = await fetch(`${service.url}/api/v1/rebalance/${id}/portfolios?offset=${offset}&limit=100&positions=true`);
        if (page.status !== 200) throw new Error(`page at ${offset} answered ${page.status}`);
        bytes += (await page.arrayBuffer()).byteLength;
      }
      const pagesSeconds = (performance.now() - pagesStarted) / 1000;
      const serviceCpuSeconds = (await cpuSeconds(pid)) - cpuBefore;
      const peak = await peakRssMiB(pid);

      const sync = withSync ? await timeSync(portfolios) : { firstByte: Number.NaN, last: Number.NaN };
      const syncFirstByteSeconds = sync.firstByte;
      const syncSeconds = sync.last;
      const row: AsyncRow = {
        portfolios,
        acceptedMs,
        completeSeconds,
        pagesSeconds,
        pagesMiB: bytes / 2 ** 20,
        serviceCpuSeconds,
        peakRssMiB: peak,
        syncFirstByteSeconds,
        syncSeconds,
      };
      rows.push(row);
      log(
        `async ${portfolios}: 202 in ${acceptedMs.toFixed(0)} ms, complete in ${completeSeconds.toFixed(1)} s, ` +
          `pages read in ${pagesSeconds.toFixed(1)} s (${row.pagesMiB.toFixed(1)} MiB), peak RSS ${peak.toFixed(0)} MiB` +
          (withSync ? `; sync: first byte ${syncFirstByteSeconds.toFixed(1)} s, last ${syncSeconds.toFixed(1)} s` : ''),
      );
    } catch (error) {
      log(`async ${portfolios} FAILED: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      await service.stop();
      await sim.stop();
    }
  }
  return rows;
}
