// Runs the optimiser without blocking the event loop: cheap problems (steps
// 1–3 settle them) on the calling thread, large or cash-binding ones in a
// small pool of worker threads. Same answers as `optimize`, exactly.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { type OptimizerInput, type OptimizerResult, optimizeUnlessBinding } from './index.js';
import type { WorkRequest } from './worker.js';

/** Problems with more securities than this go to a worker even when the cash does not bind. */
const LARGE_PROBLEM = 400;

export type OptimizerPool = ReturnType<typeof createOptimizerPool>;

interface Job {
  readonly request: WorkRequest;
  readonly resolve: (result: OptimizerResult) => void;
  readonly reject: (error: Error) => void;
}

/**
 * The compiled worker, or in the source tree (tests, tsx) the TypeScript one
 * behind a small bootstrap that registers the tsx loader first (Node 20 does
 * not apply --import hooks to a worker's entry module).
 */
function startWorker(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./worker.js', import.meta.url));
  const entry = JSON.stringify(new URL('./worker.ts', import.meta.url).href);
  return new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${entry}); })`, { eval: true });
}

/** `size`: worker threads (default: cores − 1, at least 1). */
export function createOptimizerPool(options: { readonly timeoutMs: number; readonly size?: number }) {
  const size = options.size ?? Math.max(1, availableParallelism() - 1);
  const idle: Worker[] = [];
  const busy = new Map<Worker, Job>();
  const queue: Job[] = [];
  let workers = 0;
  let inline = 0;
  let offloaded = 0;
  let closed = false;

  const settle = (worker: Worker, message: { result?: OptimizerResult; error?: { name: string; message: string } }) => {
    const job = busy.get(worker);
    busy.delete(worker);
    if (job !== undefined) {
      if (message.result !== undefined) job.resolve(message.result);
      else
        job.reject(Object.assign(new Error(message.error?.message ?? 'optimiser worker failed'), { name: message.error?.name ?? 'Error' }));
    }
    idle.push(worker);
    pump();
  };

  const spawn = (): Worker => {
    const worker = startWorker();
    workers += 1;
    worker.unref();
    worker.on('message', (message) => settle(worker, message));
    worker.on('error', (error) => {
      const job = busy.get(worker);
      busy.delete(worker);
      job?.reject(error);
    });
    worker.on('exit', () => {
      workers -= 1;
      const job = busy.get(worker);
      busy.delete(worker);
      job?.reject(new Error('optimiser worker exited'));
      const at = idle.indexOf(worker);
      if (at >= 0) idle.splice(at, 1);
      if (!closed) pump();
    });
    return worker;
  };

  function pump(): void {
    while (queue.length > 0) {
      const worker = idle.pop() ?? (workers < size ? spawn() : undefined);
      if (worker === undefined) return;
      const job = queue.shift()!;
      busy.set(worker, job);
      worker.postMessage(job.request);
    }
  }

  return {
    async optimize(input: OptimizerInput): Promise<OptimizerResult> {
      if (closed) throw new Error('the optimiser pool is closed');
      if (input.securities.length <= LARGE_PROBLEM) {
        const settled = optimizeUnlessBinding(input, { timeoutMs: options.timeoutMs });
        if (settled !== null) {
          inline += 1;
          return settled;
        }
      }
      offloaded += 1;
      return new Promise<OptimizerResult>((resolve, reject) => {
        queue.push({ request: { input, timeoutMs: options.timeoutMs }, resolve, reject });
        pump();
      });
    },
    /** Problems solved on the calling thread, and in a worker. */
    stats: () => ({ inline, offloaded }),
    async close() {
      closed = true;
      for (const job of queue.splice(0)) job.reject(new Error('the optimiser pool is closed'));
      const all = [...idle, ...busy.keys()];
      await Promise.all(all.map((worker) => worker.terminate()));
    },
  };
}
