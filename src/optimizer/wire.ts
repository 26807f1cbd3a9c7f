// Optimiser inputs and results as plain data (decimals as strings), to cross
// into and out of worker threads: structured clone drops decimal.js prototypes.
import { Dec } from '../domain/decimal.js';
import type { OptimizerInput, OptimizerResult } from './types.js';

type Plain<T> = T extends Dec
  ? string
  : T extends readonly (infer U)[]
    ? Plain<U>[]
    : T extends object
      ? { [K in keyof T]: Plain<T[K]> }
      : T;

export type PlainInput = Plain<OptimizerInput>;
export type PlainResult = Plain<OptimizerResult>;

const isDec = (value: unknown): value is Dec => value instanceof Dec;

function toPlain(value: unknown): unknown {
  if (isDec(value)) return value.toFixed();
  if (Array.isArray(value)) return value.map(toPlain);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toPlain(v)]));
  }
  return value;
}

/** The fields that hold decimals, by name, in inputs and results. */
const DECIMAL_FIELDS = new Set([
  'quantity',
  'price',
  'target',
  'lowDrift',
  'highDrift',
  'cash',
  'marketValue',
  'original',
  'adjusted',
  'driftBefore',
  'driftAfter',
  'bandLow',
  'bandHigh',
  'fraction',
  'minShares',
  'maxShares',
]);

function fromPlain(value: unknown, key?: string): unknown {
  if (typeof value === 'string' && key !== undefined && DECIMAL_FIELDS.has(key)) return new Dec(value);
  if (Array.isArray(value)) return value.map((v) => fromPlain(v));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromPlain(v, k)]));
  }
  return value;
}

export const inputToPlain = (input: OptimizerInput) => toPlain(input) as PlainInput;
export const inputFromPlain = (plain: PlainInput) => fromPlain(plain) as OptimizerInput;
export const resultToPlain = (result: OptimizerResult) => toPlain(result) as PlainResult;
export const resultFromPlain = (plain: PlainResult) => fromPlain(plain) as OptimizerResult;
