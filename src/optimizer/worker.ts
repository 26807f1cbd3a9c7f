// Worker-thread entry of the optimiser pool: solves one problem per message.
import { parentPort } from 'node:worker_threads';
import { optimize } from './index.js';
import { inputFromPlain, resultToPlain, type PlainInput } from './wire.js';

export interface WorkRequest {
  readonly id: number;
  readonly input: PlainInput;
  readonly timeoutMs: number;
}

parentPort?.on('message', (request: WorkRequest) => {
  try {
    const result = optimize(inputFromPlain(request.input), { timeoutMs: request.timeoutMs, now: () => performance.now() });
    parentPort?.postMessage({ id: request.id, result: resultToPlain(result) });
  } catch (error) {
    const failure = error instanceof Error ? { name: error.name, message: error.message } : { name: 'Error', message: String(error) };
    parentPort?.postMessage({ id: request.id, error: failure });
  }
});
