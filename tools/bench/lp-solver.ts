// javascript-lp-solver on the optimiser's problem, for comparison only (it is
// not on the production path: past ~30 integer variables it times out and
// returns fractional share counts flagged feasible).

import type { SolverAPI } from 'javascript-lp-solver';
import * as lpModule from 'javascript-lp-solver';
import type { OptimizerInput } from '../../test/optimizer/oracle.js';
import { Dec } from '../../test/optimizer/oracle.js';

// The package's types describe its CommonJS build; under ESM its default export is the solver.
const solver = (lpModule as unknown as { default: SolverAPI }).default;

/** Its answer as share counts (as returned, fractional or not), or null when it reports no solution. */
export function solveWithLpSolver(input: OptimizerInput, mv: Dec, bands: { low: Dec; high: Dec }[]): Map<string, Dec> | null {
  const constraints: Record<string, { min?: number; max?: number }> = { cash: { max: mv.toNumber() } };
  const variables: Record<string, Record<string, number>> = {};
  const ints: Record<string, 1> = {};
  input.securities.forEach((s, i) => {
    const target = mv.times(s.target).toNumber();
    const price = s.price.toNumber();
    constraints[`a${i}`] = { min: target };
    constraints[`b${i}`] = { min: -target };
    constraints[`lo${i}`] = { min: bands[i]!.low.toNumber() };
    constraints[`hi${i}`] = { max: bands[i]!.high.toNumber() };
    variables[`x${i}`] = { [`a${i}`]: price, [`b${i}`]: -price, cash: price, [`lo${i}`]: 1, [`hi${i}`]: 1, drift: 0 };
    variables[`d${i}`] = { [`a${i}`]: 1, [`b${i}`]: 1, drift: 1 };
    ints[`x${i}`] = 1;
  });
  const result = solver.Solve({ optimize: 'drift', opType: 'min', constraints, variables, ints, options: { timeout: 2000 } }) as {
    feasible?: boolean;
  } & Record<string, number | boolean | undefined>;
  if (result.feasible !== true) return null;
  const values = result as Record<string, number | undefined>;
  return new Map(input.securities.map((s, i) => [s.securityId, new Dec(String(values[`x${i}`] ?? 0))]));
}
