// The tests' one vocabulary: readable, well-formed ids and bodies, and the
// HTTP assertions (each failure shows the status and the body).
import { expect } from 'vitest';
import type { TestApp } from './app.js';

/** 24-character ids that read well in failures: security ids are ObjectIds (hex), as the Security service needs. */
export const sid = (name: string | number) => Buffer.from(String(name).toUpperCase()).toString('hex').padStart(24, '0');
export const pid = (name: string | number) => `PF${String(name).toUpperCase().padStart(22, '0')}`;

export interface PositionBody {
  security_id: string;
  target: string | number;
  high_drift: string | number;
  low_drift: string | number;
}

/** A model position; `high` defaults to `low` (one drift band both ways). */
export const position = (
  security: string,
  target: string | number,
  low: string | number = '0.02',
  high: string | number = low,
): PositionBody => ({
  security_id: security,
  target,
  low_drift: low,
  high_drift: high,
});

/** Parses a JSON response body (the tests read what the user reads). */
// biome-ignore lint/suspicious/noExplicitAny: test bodies are asserted field by field
export const json = <T = any>(response: { body: string }): T => JSON.parse(response.body) as T;

/** Asserts the status; a failure prints the status and the body. Returns the response. */
export function expectStatus<R extends { statusCode: number; body: string }>(res: R, status: number, what?: string): R {
  expect(res.statusCode, `${what === undefined ? '' : `${what}: `}answered ${res.statusCode} ${res.body.slice(0, 2000)}`).toBe(status);
  return res;
}

/** Creates a model through the API with a fresh name; returns its id. */
export async function createModel(t: TestApp, positions: PositionBody[] = [], portfolios: string[] = []): Promise<string> {
  modelCounter += 1;
  const res = await t.request({ method: 'POST', url: '/api/v1/models', payload: { name: `Model ${modelCounter}`, positions, portfolios } });
  expectStatus(res, 201, 'model creation');
  return json<{ model_id: string }>(res).model_id;
}
let modelCounter = 0;
