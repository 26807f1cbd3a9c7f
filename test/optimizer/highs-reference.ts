// The independent MILP reference: HiGHS (WebAssembly) on the same problem,
// on the whole shares k of each holding u' = f + k (f the fraction of the
// current holding, kept: band and target shift by f·p). Integer bounds are
// given as ceil/floor of the band (that build mis-solves fractional bounds on
// integer columns), gaps are 0, and its answer is re-evaluated exactly by the caller. Each security also gets the valid
// inequality through its two nearest whole-share points, which leaves the
// integer optimum unchanged but makes HiGHS fast on this separable problem.

import type { Highs } from 'highs';
import * as highsModule from 'highs';
import { bands, fractionOf, lessFractions, marketValue } from './exact.js';
import type { Dec, OptimizerInput } from './oracle.js';

// The package's types describe its CommonJS build; under ESM its default export is the loader.
type Loader = () => Promise<Highs>;
const loadHighs = (highsModule as unknown as { default: Loader }).default;

let highs: Promise<Highs> | undefined;
/** The one HiGHS instance of the test run (every reference solves through it). */
export const highsSolver = (): Promise<Highs> => {
  highs ??= loadHighs();
  return highs;
};

type SolveOptions = Parameters<Highs['solve']>[1];
/** Gap 0 for an exact optimum; the feasibility-jump heuristic only adds ~40 ms a solve here. */
export const HIGHS_EXACT = {
  output_flag: false,
  mip_rel_gap: 0,
  mip_abs_gap: 0,
  mip_heuristic_run_feasibility_jump: false, // not in the package's option types, accepted by HiGHS
} as Record<string, unknown> as SolveOptions;

/** x: the holdings after trading, by security id. */
export type ReferenceAnswer = { readonly feasible: false } | { readonly feasible: true; readonly x: Map<string, Dec> };

const num = (d: Dec) => d.toFixed();

export async function solveWithHighs(input: OptimizerInput): Promise<ReferenceAnswer> {
  const mv = marketValue(input);
  const band = bands(input);
  if (band.some((b) => b.low.greaterThan(b.high))) return { feasible: false };
  const rows: string[] = [];
  const bounds: string[] = [];
  const cash: string[] = [];
  input.securities.forEach((s, i) => {
    // The drift of the k shares beside the fraction: |MV·w − f·p − k·p|.
    const target = mv.times(s.target).minus(fractionOf(s).times(s.price));
    const fl = target.dividedBy(s.price).floor();
    const ce = target.dividedBy(s.price).ceil();
    const atFloor = target.minus(fl.times(s.price)).abs();
    const atCeil = target.minus(ce.times(s.price)).abs();
    rows.push(` a${i}: d${i} + ${num(s.price)} x${i} >= ${num(target)}`);
    rows.push(` b${i}: d${i} - ${num(s.price)} x${i} >= ${num(target.negated())}`);
    if (ce.greaterThan(fl)) {
      const slope = atCeil.minus(atFloor);
      rows.push(` c${i}: d${i} - ${num(slope)} x${i} >= ${num(atFloor.minus(slope.times(fl)))}`);
    }
    bounds.push(` ${num(band[i]!.low)} <= x${i} <= ${num(band[i]!.high)}`);
    cash.push(`${num(s.price)} x${i}`);
  });
  const wholeCash = lessFractions(input, mv);
  const n = input.securities.length;
  return solveHoldings(input, {
    objective: Array.from({ length: n }, (_, i) => `d${i}`),
    rows,
    cash,
    cashLimit: wholeCash,
    bounds,
    generals: Array.from({ length: n }, (_, i) => `x${i}`),
  });
}

/**
 * A reference's model in HiGHS's LP format: minimise Σ objective subject to
 * its rows and Σ cash <= cashLimit, with its bounds and general (and binary)
 * variables; the holdings are the columns x0, x1, … (whole shares beside each
 * security's kept fraction).
 */
export interface LpModel {
  readonly objective: readonly string[];
  readonly rows: readonly string[];
  readonly cash: readonly string[];
  readonly cashLimit: Dec;
  readonly bounds: readonly string[];
  readonly generals: readonly string[];
  readonly binaries?: readonly string[];
}

/** Solves a reference's model at gap 0: the holdings, or infeasible. Without securities the model is one fixed variable z. */
export async function solveHoldings(input: OptimizerInput, model: LpModel): Promise<ReferenceAnswer> {
  const solver = await highsSolver();
  const none = model.objective.length === 0;
  const binaries = model.binaries ?? [];
  const lp = [
    'Minimize',
    ` obj: ${none ? '0 z' : model.objective.join(' + ')}`,
    'Subject To',
    ...model.rows,
    ` cash: ${none ? '0 z' : model.cash.join(' + ')} <= ${num(model.cashLimit)}`,
    'Bounds',
    ...model.bounds,
    ...(none ? [' z = 0'] : []),
    'Generals',
    ` ${none ? 'z' : model.generals.join(' ')}`,
    ...(binaries.length > 0 ? ['Binaries', ` ${binaries.join(' ')}`] : []),
    'End',
  ].join('\n');
  const result = solver.solve(lp, HIGHS_EXACT);
  if (result.Status === 'Infeasible') return { feasible: false };
  if (result.Status !== 'Optimal') throw new Error(`HiGHS ended with ${result.Status}`);
  const x = new Map<string, Dec>();
  input.securities.forEach((s, i) => {
    x.set(s.securityId, fractionOf(s).plus(Math.round(result.Columns[`x${i}`]?.Primal ?? 0)));
  });
  return { feasible: true, x };
}
