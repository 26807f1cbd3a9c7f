// The tests' independent arithmetic: decimal.js (120 significant digits, so
// sums and products of the inputs are exact), a different implementation from
// the service's scaled integers. Inputs are written with it and converted at
// the optimiser's door; answers are converted back.
import { Decimal } from 'decimal.js';
import { dec, type Dec as Exact, formatDecimal } from '../../src/domain/decimal.js';
import { type OptimizerInput as ExactInput, optimize as exactOptimize, type OptimizerOptions } from '../../src/optimizer/index.js';

export const Dec = Decimal.clone({ precision: 120, rounding: Decimal.ROUND_HALF_UP, toExpNeg: -9e15, toExpPos: 9e15 });
export type Dec = Decimal;

export interface OptimizerSecurity {
  readonly securityId: string;
  readonly quantity: Dec;
  readonly price: Dec;
  readonly target: Dec;
  readonly lowDrift: Dec;
  readonly highDrift: Dec;
  readonly restriction?: 'no_buy' | 'no_sell' | 'frozen';
}

/** A hand case's security: its id padded to 24 characters, figures as decimal text (the high drift defaults to the low). */
export const security = (
  id: string,
  quantity: string,
  price: string,
  target: string,
  low: string,
  high = low,
  restriction?: OptimizerSecurity['restriction'],
): OptimizerSecurity => ({
  securityId: id.padEnd(24, '0'),
  quantity: new Dec(quantity),
  price: new Dec(price),
  target: new Dec(target),
  lowDrift: new Dec(low),
  highDrift: new Dec(high),
  ...(restriction === undefined ? {} : { restriction }),
});

export interface OptimizerInput {
  readonly securities: readonly OptimizerSecurity[];
  readonly cash: Dec;
  readonly objective?: 'drift' | 'trade';
  /** Issue 19 (optional): deposit or withdrawal, minimum cash weight, minimum trade value. */
  readonly cashFlow?: Dec;
  readonly minCash?: Dec;
  readonly minTradeValue?: Dec;
}

const isExact = (value: unknown): value is Exact =>
  value !== null && typeof value === 'object' && typeof (value as Exact).digits === 'bigint' && typeof (value as Exact).scale === 'number';

/** Every exact decimal in `value` (deeply) as decimal.js, and back. */
type Oracle<T> = T extends Exact
  ? Dec
  : T extends readonly (infer U)[]
    ? Oracle<U>[]
    : T extends object
      ? { [K in keyof T]: Oracle<T[K]> }
      : T;
export function toOracle<T>(value: T): Oracle<T> {
  if (isExact(value)) return new Dec(formatDecimal(value)) as Oracle<T>;
  if (Array.isArray(value)) return value.map(toOracle) as Oracle<T>;
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toOracle(v)])) as Oracle<T>;
  return value as Oracle<T>;
}

const exact = (d: Dec): Exact => dec(d.toFixed());

export const exactInput = (input: OptimizerInput): ExactInput => ({
  ...(input.objective === undefined ? {} : { objective: input.objective }),
  cash: exact(input.cash),
  ...(input.cashFlow === undefined ? {} : { cashFlow: exact(input.cashFlow) }),
  ...(input.minCash === undefined ? {} : { minCash: exact(input.minCash) }),
  ...(input.minTradeValue === undefined ? {} : { minTradeValue: exact(input.minTradeValue) }),
  securities: input.securities.map((s) => ({
    securityId: s.securityId,
    quantity: exact(s.quantity),
    price: exact(s.price),
    target: exact(s.target),
    lowDrift: exact(s.lowDrift),
    highDrift: exact(s.highDrift),
    ...(s.restriction === undefined ? {} : { restriction: s.restriction }),
  })),
});

export type OptimizerResult = Oracle<ReturnType<typeof exactOptimize>>;

/** The optimiser on an oracle input, its answer in oracle decimals. */
export const optimize = (input: OptimizerInput, options?: OptimizerOptions): OptimizerResult =>
  toOracle(exactOptimize(exactInput(input), options));
