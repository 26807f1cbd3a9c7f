// The tests' one vocabulary: readable, well-formed ids and bodies, and the
// HTTP assertions (each failure shows the status and the body).

import type { InjectOptions, LightMyRequestResponse } from 'fastify';
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

/** Asserts every response has this status; a failure lists the others' statuses and bodies. */
export function expectEveryStatus(responses: readonly { statusCode: number; body: string }[], status: number): void {
  const seen = responses.map((res) => (res.statusCode === status ? status : `answered ${res.statusCode} ${res.body.slice(0, 500)}`));
  expect(seen).toEqual(responses.map(() => status));
}

/** The responses' statuses, sorted; one outside `expected` carries its body, so a failure shows it. */
export function statuses(responses: readonly { statusCode: number; body: string }[], expected: readonly number[]): (number | string)[] {
  return responses
    .map((res) => (expected.includes(res.statusCode) ? res.statusCode : `${res.statusCode} ${res.body.slice(0, 500)}`))
    .sort((a, b) => String(a).localeCompare(String(b)));
}

/**
 * A request as a well-behaved client sends it: a 503 (the database or the
 * service briefly unavailable, as on a loaded machine) is tried again, a
 * bounded number of times; the last answer is returned whatever it is.
 */
export async function send(t: TestApp, options: InjectOptions, attempts = 3): Promise<LightMyRequestResponse> {
  let res = await t.request(options);
  for (let i = 1; i < attempts && res.statusCode === 503; i++) res = await t.request(options);
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
