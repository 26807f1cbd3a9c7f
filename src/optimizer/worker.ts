// Worker-thread entry of the optimiser pool: solves one problem per message.
import { parentPort } from 'node:worker_threads';
import { type OptimizerInput, optimize } from './index.js';

/** Exact decimals are plain data (a bigint and a number): they cross threads as they are. */
export interface WorkRequest {
  readonly input: OptimizerInput;
  readonly timeoutMs: number;
}

parentPort?.on('message', (request: WorkRequest) => {
  try {
    const result = optimize(request.input, { timeoutMs: request.timeoutMs, now: () => performance.now() });
    parentPort?.postMessage({ result });
  } catch (error) {
    const failure = error instanceof Error ? { name: error.name, message: error.message } : { name: 'Error', message: String(error) };
    parentPort?.postMessage({ error: failure });
  }
});
