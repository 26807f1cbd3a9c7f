// References for the band objective (issue 18, rebalance_to "band"), independent
// of the optimiser's code: HiGHS on the least-trade MILP, an exhaustive search
// for small instances, and a seeded generator whose cash often binds.
import { random } from '../../tools/random.js';
import { bands, evaluate, fractionOf, lessFractions, marketValue } from './exact.js';
import { type ReferenceAnswer, solveHoldings } from './highs-reference.js';
import { Dec, type OptimizerInput, type OptimizerSecurity } from './oracle.js';

const num = (d: Dec) => d.toFixed();

/**
 * HiGHS on: minimise Σ t_i, t_i >= ±(k_i − k0_i)·p_i, k_i whole in the band's
 * integer bounds (ceil/floor, as highs-reference.ts), Σ k_i·p_i within the cash
 * left beside the fractions; gaps 0. k0 = floor(u) are the whole shares held.
 */
export async function solveBandWithHighs(input: OptimizerInput): Promise<ReferenceAnswer> {
  const mv = marketValue(input);
  const band = bands(input);
  if (band.some((b) => b.low.greaterThan(b.high))) return { feasible: false };
  // Prices scaled to whole numbers and the t_i declared integer: every objective
  // value is then a whole number, so HiGHS's tolerances cannot take a worse trade
  // for the optimum (they did, by 0.0004 in 21 897, with fractional coefficients).
  const places = Math.max(0, ...input.securities.map((s) => s.price.decimalPlaces()));
  const unit = new Dec(10).pow(places);
  const rows: string[] = [];
  const bounds: string[] = [];
  const cash: string[] = [];
  input.securities.forEach((s, i) => {
    const p = s.price.times(unit);
    const held = s.quantity.floor();
    rows.push(` a${i}: t${i} - ${num(p)} x${i} >= ${num(held.times(p).negated())}`);
    rows.push(` b${i}: t${i} + ${num(p)} x${i} >= ${num(held.times(p))}`);
    bounds.push(` ${num(band[i]!.low)} <= x${i} <= ${num(band[i]!.high)}`);
    cash.push(`${num(p)} x${i}`);
  });
  const wholeCash = lessFractions(input, mv).times(unit).floor();
  const n = input.securities.length;
  return solveHoldings(input, {
    objective: Array.from({ length: n }, (_, i) => `t${i}`),
    rows,
    cash,
    cashLimit: wholeCash,
    bounds,
    generals: Array.from({ length: n }, (_, i) => `x${i} t${i}`),
  });
}

/** Every vector of holdings in the bands, ranked by (trade, drift, quantities in id order); null when none is feasible. */
export function bandBruteForce(input: OptimizerInput): Map<string, Dec> | null {
  const securities = [...input.securities].sort((a, b) => (a.securityId < b.securityId ? -1 : 1));
  const sorted = { ...input, securities };
  const band = bands(sorted);
  if (band.some((b) => b.low.greaterThan(b.high))) return null;
  let best: { x: Dec[]; trade: Dec; drift: Dec } | null = null;
  const x: Dec[] = [];
  const walk = (i: number) => {
    if (i === securities.length) {
      const found = evaluate(sorted, new Map(securities.map((s, k) => [s.securityId, x[k]!])));
      if (!found.feasible) return;
      const first = best === null ? -1 : x.findIndex((q, k) => !q.equals(best!.x[k]!));
      const better =
        best === null ||
        found.trade.lessThan(best.trade) ||
        (found.trade.equals(best.trade) &&
          (found.drift.lessThan(best.drift) || (found.drift.equals(best.drift) && first >= 0 && x[first]!.lessThan(best.x[first]!))));
      if (better) best = { x: [...x], trade: found.trade, drift: found.drift };
      return;
    }
    const f = fractionOf(securities[i]!);
    for (let q = band[i]!.low.plus(f); q.lessThanOrEqualTo(band[i]!.high.plus(f)); q = q.plus(1)) {
      x[i] = q;
      walk(i + 1);
    }
  };
  walk(0);
  if (best === null) return null;
  const found: { x: Dec[] } = best;
  return new Map(securities.map((s, i) => [s.securityId, found.x[i]!]));
}

/** Without the cash constraint: each holding clamped into its band. */
export function clampedHoldings(input: OptimizerInput): Map<string, Dec> {
  const band = bands(input);
  return new Map(
    input.securities.map((s, i) => {
      const f = fractionOf(s);
      const k = Dec.min(Dec.max(s.quantity.floor(), band[i]!.low), band[i]!.high);
      return [s.securityId, k.plus(f)];
    }),
  );
}

const id = (n: number) => `SEC${String(n).padStart(21, '0')}`;

/**
 * Instance `seed` of the band family: holdings scattered below, inside and
 * above wide bands, with little or no cash (sometimes overdrawn), so that
 * buying up to the lower edges often overspends and the sale must be chosen
 * exactly. `size` fixes the number of securities. Some holdings are short,
 * some fractional; one instance in eight has cheap shares by the hundred.
 */
export function generateBand(seed: number, size?: number): OptimizerInput {
  const rnd = random(seed * 7919 + 13);
  const between = (lo: number, hi: number) => lo + (hi - lo) * rnd();
  const int = (lo: number, hi: number) => Math.floor(between(lo, hi + 1));
  const n = size ?? int(2, 6);
  const mv = Math.exp(between(Math.log(2e3), Math.log(5e6)));
  const cheap = rnd() < 0.125;
  const units = Math.max(n, int(190, 200)); // targets sum to 0.95 .. 1.0 in steps of 0.005
  const shares = Array.from({ length: n }, () => 1);
  for (let extra = units - n; extra > 0; extra--) shares[int(0, n - 1)]! += 1;
  const securities: OptimizerSecurity[] = [];
  let held = new Dec(0);
  for (let k = 0; k < n; k++) {
    const weight = shares[k]! * 0.005;
    const targetShares = between(cheap ? 100 : 8, cheap ? 600 : 80);
    const price = new Dec(Math.max(0.5, (mv * weight) / targetShares).toFixed(rnd() < 0.8 ? 2 : 4));
    const t = (mv * weight) / price.toNumber();
    const place = rnd();
    const ratio =
      place < 0.3 ? between(0.3, 0.85) : place < 0.8 ? between(0.85, 1.15) : place < 0.95 ? between(1.15, 1.6) : between(-0.5, 0);
    const fractional = rnd() < 0.15;
    const quantity = fractional ? new Dec((t * ratio).toFixed(3)) : new Dec(Math.round(t * ratio));
    const width = () => new Dec(Math.min(weight, weight * between(0.1, 0.4)).toFixed(4));
    held = held.plus(quantity.times(price));
    securities.push({
      securityId: id(int(0, 1e6) * 100 + k),
      quantity,
      price,
      target: new Dec(weight.toFixed(3)),
      lowDrift: width(),
      highDrift: width(),
    });
  }
  // Little cash: a share c of the market value, from 1% overdrawn to 2%.
  const c = between(-0.01, 0.02);
  const cash = held.times(c / (1 - c)).toDecimalPlaces(2);
  return { securities, cash, objective: 'trade' };
}
