// Readable, well-formed ids and bodies for tests.
export const securityId = (n: number) => `SEC${String(n).padStart(21, '0')}`;
export const portfolioId = (n: number) => `PRT${String(n).padStart(21, '0')}`;

export interface PositionBody {
  security_id: string;
  target: string | number;
  high_drift: string | number;
  low_drift: string | number;
}

export const position = (n: number, target: string | number, drift: string | number = '0.02'): PositionBody => ({
  security_id: securityId(n),
  target,
  high_drift: drift,
  low_drift: drift,
});

/** Parses a JSON response body (the tests read what the user reads). */
export const json = <T = any>(response: { body: string }): T => JSON.parse(response.body) as T; // eslint-disable-line @typescript-eslint/no-explicit-any -- test bodies are asserted field by field

import type { TestApp } from './app.js';

/** Creates a model through the API with a fresh name; returns its id. */
export async function createModel(t: TestApp, positions: PositionBody[] = [], portfolios: string[] = []): Promise<string> {
  modelCounter += 1;
  const res = await t.request({ method: 'POST', url: '/api/v1/models', payload: { name: `Model ${modelCounter}`, positions, portfolios } });
  if (res.statusCode !== 201) throw new Error(`model creation failed: ${res.statusCode} ${res.body}`);
  return (JSON.parse(res.body) as { model_id: string }).model_id;
}
let modelCounter = 0;
