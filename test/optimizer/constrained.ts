// Issue 19, the tests' side: what cash flows, a minimum cash, restrictions and
// a minimum trade value mean, written again with decimal.js (independent of
// the optimiser's code): the allowed holdings per security, an exact
// evaluation of any answer, the HiGHS model with binaries for the holes a
// minimum trade cuts, and a seeded generator of instances mixing them.
import { expect, it } from 'vitest';
import { prepare } from '../../src/optimizer/scaled.js';
import { decide } from '../../src/optimizer/solve.js';
import { generate, random } from './corpus.js';
import { fractionOf, lessFractions } from './exact.js';
import { type ReferenceAnswer, solveHoldings } from './highs-reference.js';
import { Dec, exactInput, type OptimizerInput, type OptimizerResult, type OptimizerSecurity, optimize } from './oracle.js';

/** MV' = cash + flow + Σ u·p. */
export const marketValueAfterFlow = (input: OptimizerInput): Dec =>
  input.securities.reduce((mv, s) => mv.plus(s.quantity.times(s.price)), input.cash.plus(input.cashFlow ?? 0));

export interface Allowed {
  /** The whole shares k beside the fraction the band (relaxed by the rule) allows: lo..hi. */
  readonly lo: Dec;
  readonly hi: Dec;
  /** The current whole part floor(u). */
  readonly k0: Dec;
  /** Fewest shares a trade may have (0: no minimum trade). */
  readonly m: Dec;
  /** The band alone holds no whole share (unrestricted): infeasible 'band'. */
  readonly bandEmpty: boolean;
}

/** Per security: the band's whole shares, relaxed by its rule; the minimum trade's hole. */
export function allowedRanges(input: OptimizerInput): Allowed[] {
  const mv = marketValueAfterFlow(input);
  return input.securities.map((s) => {
    const f = fractionOf(s);
    const k0 = s.quantity.floor();
    let lo = Dec.max(0, mv.times(s.target.minus(s.lowDrift)).dividedBy(s.price).minus(f).ceil());
    let hi = mv.times(s.target.plus(s.highDrift)).dividedBy(s.price).minus(f).floor();
    const bandEmpty = lo.greaterThan(hi) && s.restriction === undefined;
    if (s.restriction === 'frozen') {
      lo = k0;
      hi = k0;
    } else if (s.restriction === 'no_buy') {
      hi = Dec.min(hi, k0);
      if (lo.greaterThan(hi)) lo = hi = k0;
    } else if (s.restriction === 'no_sell') {
      lo = Dec.max(lo, k0);
      if (lo.greaterThan(hi)) lo = hi = k0;
    }
    const t = input.minTradeValue;
    const m = t === undefined || t.isZero() ? new Dec(0) : t.dividedBy(s.price).ceil();
    return { lo, hi, k0, m, bandEmpty };
  });
}

/** Is k an allowed whole-share holding of this range? */
export function isAllowed(a: Allowed, k: Dec): boolean {
  if (k.lessThan(a.lo) || k.greaterThan(a.hi)) return false;
  if (a.m.lessThanOrEqualTo(1) || k.equals(a.k0) || k.isZero()) return true;
  return k.minus(a.k0).abs().greaterThanOrEqualTo(a.m);
}

export interface Evaluated {
  readonly feasible: boolean;
  readonly problems: string[];
  readonly drift: Dec;
  readonly trade: Dec;
}

/** Exact evaluation of holdings x (by id) against every constraint of issue 19. */
export function evaluateConstrained(input: OptimizerInput, x: ReadonlyMap<string, Dec>): Evaluated {
  const mv = marketValueAfterFlow(input);
  const ranges = allowedRanges(input);
  const problems: string[] = [];
  let drift = new Dec(0);
  let trade = new Dec(0);
  let spend = new Dec(0);
  input.securities.forEach((s, i) => {
    const q = x.get(s.securityId)!;
    const r = ranges[i]!;
    const k = q.minus(fractionOf(s));
    const value = q.times(s.price);
    if (!q.minus(s.quantity).isInteger()) problems.push(`${s.securityId}: not a whole-share trade`);
    if (!isAllowed(r, k)) problems.push(`${s.securityId}: ${k} whole shares not allowed (${r.lo}..${r.hi}, k0 ${r.k0}, m ${r.m})`);
    if (s.restriction === 'frozen' && !q.equals(s.quantity)) problems.push(`${s.securityId}: frozen, traded`);
    if (s.restriction === 'no_buy' && q.greaterThan(s.quantity)) problems.push(`${s.securityId}: no_buy, bought`);
    if (s.restriction === 'no_sell' && q.lessThan(s.quantity)) problems.push(`${s.securityId}: no_sell, sold`);
    const t = input.minTradeValue;
    if (t !== undefined && !q.equals(s.quantity) && !k.isZero() && q.minus(s.quantity).abs().times(s.price).lessThan(t)) {
      problems.push(`${s.securityId}: a trade below the minimum`);
    }
    drift = drift.plus(mv.times(s.target).minus(value).abs());
    trade = trade.plus(q.minus(s.quantity).abs().times(s.price));
    spend = spend.plus(value);
  });
  const cap = mv.times(new Dec(1).minus(input.minCash ?? 0));
  if (spend.greaterThan(cap)) problems.push(`spends ${spend}, more than ${cap}`);
  return { feasible: problems.length === 0, problems, drift, trade };
}

// ---- HiGHS with binaries for the holes ----

const num = (d: Dec) => d.toFixed();
/** " + 5 y" / " - 5 y" */
const term = (coefficient: Dec, variable: string) =>
  coefficient.isNegative() ? ` - ${num(coefficient.negated())} ${variable}` : ` + ${num(coefficient)} ${variable}`;

export type Reference = ReferenceAnswer;

export async function solveConstrainedWithHighs(input: OptimizerInput): Promise<Reference> {
  const mv = marketValueAfterFlow(input);
  if (mv.isNegative()) return { feasible: false };
  const ranges = allowedRanges(input);
  if (ranges.some((r) => r.bandEmpty || r.lo.greaterThan(r.hi))) return { feasible: false };
  const rows: string[] = [];
  const bounds: string[] = [];
  const binaries: string[] = [];
  const generals: string[] = [];
  const cash: string[] = [];
  const zero = new Dec(0);
  for (const [i, s] of input.securities.entries()) {
    const r = ranges[i]!;
    const target = mv.times(s.target).minus(fractionOf(s).times(s.price));
    const fl = target.dividedBy(s.price).floor();
    const ce = target.dividedBy(s.price).ceil();
    rows.push(` a${i}: d${i} + ${num(s.price)} x${i} >= ${num(target)}`);
    rows.push(` b${i}: d${i} - ${num(s.price)} x${i} >= ${num(target.negated())}`);
    if (ce.greaterThan(fl)) {
      const atFloor = target.minus(fl.times(s.price)).abs();
      const slope = target.minus(ce.times(s.price)).abs().minus(atFloor);
      rows.push(` c${i}: d${i} - ${num(slope)} x${i} >= ${num(atFloor.minus(slope.times(fl)))}`);
    }
    bounds.push(` ${num(r.lo)} <= x${i} <= ${num(r.hi)}`);
    generals.push(`x${i}`);
    cash.push(`${num(s.price)} x${i}`);
    if (r.m.greaterThan(1)) {
      // x = xs + xb + k0·yh + 0·yz, one of: sell >= m, buy >= m, hold, close.
      const sellTop = Dec.min(r.hi, r.k0.minus(r.m));
      const buyBottom = Dec.max(r.lo, r.k0.plus(r.m));
      const canSell = r.lo.lessThanOrEqualTo(sellTop);
      const canBuy = buyBottom.lessThanOrEqualTo(r.hi);
      const canHold = r.lo.lessThanOrEqualTo(r.k0) && r.k0.lessThanOrEqualTo(r.hi);
      const canClose = r.lo.lessThanOrEqualTo(0) && r.hi.greaterThanOrEqualTo(0);
      if (!canSell && !canBuy && !canHold && !canClose) return { feasible: false };
      rows.push(` h${i}: x${i} - xs${i} - xb${i}${term(r.k0.negated(), `yh${i}`)} = 0`);
      rows.push(` o${i}: ys${i} + yb${i} + yh${i} + yz${i} = 1`);
      rows.push(` sl${i}: xs${i}${term(r.lo.negated(), `ys${i}`)} >= 0`);
      rows.push(` su${i}: xs${i}${term(sellTop.negated(), `ys${i}`)} <= 0`);
      rows.push(` bl${i}: xb${i}${term(buyBottom.negated(), `yb${i}`)} >= 0`);
      rows.push(` bu${i}: xb${i}${term(r.hi.negated(), `yb${i}`)} <= 0`);
      bounds.push(` ${num(Dec.min(r.lo, zero))} <= xs${i} <= ${num(Dec.max(sellTop, zero))}`);
      bounds.push(` ${num(Dec.min(buyBottom, zero))} <= xb${i} <= ${num(Dec.max(r.hi, zero))}`);
      bounds.push(` 0 <= ys${i} <= ${canSell ? 1 : 0}`, ` 0 <= yb${i} <= ${canBuy ? 1 : 0}`);
      bounds.push(` 0 <= yh${i} <= ${canHold ? 1 : 0}`, ` 0 <= yz${i} <= ${canClose ? 1 : 0}`);
      generals.push(`xs${i}`, `xb${i}`);
      binaries.push(`ys${i}`, `yb${i}`, `yh${i}`, `yz${i}`);
    }
  }
  const cap = mv.times(new Dec(1).minus(input.minCash ?? 0));
  const wholeCash = lessFractions(input, cap);
  const n = input.securities.length;
  return solveHoldings(input, {
    objective: Array.from({ length: n }, (_, i) => `d${i}`),
    rows,
    cash,
    cashLimit: wholeCash,
    bounds,
    generals,
    binaries,
  });
}

/** The reason an infeasible instance must give, decided independently (in the order the optimiser checks). */
export function expectedReason(input: OptimizerInput): 'withdrawal' | 'overdrawn' | 'band' | 'min_trade' | 'cash' {
  const mv = marketValueAfterFlow(input);
  if (mv.isNegative()) return mv.minus(input.cashFlow ?? 0).isNegative() ? 'overdrawn' : 'withdrawal';
  const ranges = allowedRanges(input);
  if (ranges.some((r) => r.bandEmpty)) return 'band';
  const holed = ranges.some((r) => {
    if (r.m.lessThanOrEqualTo(1)) return false;
    for (const k of [r.lo, r.hi, r.k0, new Dec(0), r.k0.minus(r.m), r.k0.plus(r.m)]) if (isAllowed(r, k)) return false;
    return true;
  });
  return holed ? 'min_trade' : 'cash';
}

// ---- the seeded generator ----

const RULES = ['no_buy', 'no_sell', 'frozen'] as const;

/**
 * Instance `seed`: a book (up to 40 securities) or a tight instance (the cash
 * binds; up to 30), with a deposit or a withdrawal (one in twenty larger than
 * the portfolio), a minimum cash (tight instances), restrictions on about one
 * security in eight and a minimum trade value near the size of a position,
 * each drawn on its own.
 */
export function generateConstrained(seed: number): OptimizerInput {
  for (let attempt = 0; ; attempt++) {
    const input = draw(seed + attempt * 1_000_003);
    if (attempt === 20 || !hugeSellDown(input)) return input;
  }
}

/**
 * Does the cash bind with more than 2 000 shares of one security to sell
 * down? Such books (millions of cheap shares) make the exact tie-break on
 * trade value a subset-sum question that can outlast any budget (the answer
 * is then 'timeout', never a wrong one); the corpus draws another instance.
 */
function hugeSellDown(input: OptimizerInput): boolean {
  const core = decide(prepare(exactInput(input)));
  if (core.kind !== 'sell_down') return false;
  return core.best.some((b, i) => b - core.low[i]! > 2000);
}

function draw(seed: number): OptimizerInput {
  const rnd = random(seed * 97 + 13);
  const between = (lo: number, hi: number) => lo + (hi - lo) * rnd();
  const tight = rnd() < 0.5;
  const base = generate(seed + 100_000, tight ? 'tight' : 'book', tight ? 2 + (seed % 29) : 1 + (seed % 40)).input;
  const mv = base.securities.reduce((sum, s) => sum.plus(s.quantity.times(s.price)), base.cash);
  const flowStyle = rnd();
  const cashFlow =
    flowStyle < 0.35
      ? new Dec(mv.times(between(0, 0.3)).toFixed(2))
      : flowStyle < 0.65
        ? new Dec(mv.times(-between(0, 0.3)).toFixed(2))
        : flowStyle < 0.7
          ? new Dec(mv.times(-between(1.01, 1.5)).toFixed(2))
          : undefined;
  // Books (up to a billion, at prices down to 0.50) hold millions of shares: with the cash binding, the
  // exact tie-break on trade value can outlast any budget, so only the tight family gets a minimum cash.
  const minCash = tight && rnd() < 0.5 ? new Dec((0.005 * Math.floor(between(1, 11))).toFixed(3)) : undefined;
  const securities = base.securities.map(
    (s): OptimizerSecurity => (rnd() < 0.12 ? { ...s, restriction: RULES[Math.floor(rnd() * 3)]! } : s),
  );
  const modelled = securities.filter((s) => !s.target.isZero());
  const average = modelled.length === 0 ? mv.dividedBy(10) : mv.times(0.95).dividedBy(modelled.length);
  const minTradeValue = rnd() < 0.6 ? new Dec(average.abs().times(between(0.02, 0.7)).toFixed(2)) : undefined;
  return {
    cash: base.cash,
    securities,
    ...(cashFlow === undefined ? {} : { cashFlow }),
    ...(minCash === undefined ? {} : { minCash }),
    ...(minTradeValue === undefined ? {} : { minTradeValue }),
  };
}

export interface ConstrainedOutcome {
  readonly verdict: 'feasible' | 'infeasible';
  readonly reason?: string;
}

/** One instance: ours against HiGHS (verdict, optimum), re-checked exactly, with the reason named. */
export async function checkConstrained(input: OptimizerInput, label: string): Promise<ConstrainedOutcome> {
  const ours: OptimizerResult = optimize(input);
  const reference = await solveConstrainedWithHighs(input);
  if (ours.status === 'infeasible') expect(ours.reason, `${label}: ${ours.message}`).not.toBe('timeout');
  expect(ours.status !== 'infeasible', `${label}: feasibility verdict`).toBe(reference.feasible);
  if (ours.status === 'infeasible') {
    expect(ours.reason, `${label}: the constraint named`).toBe(expectedReason(input));
    return { verdict: 'infeasible', reason: ours.reason };
  }
  if (!reference.feasible) return { verdict: 'infeasible' };
  const mine = evaluateConstrained(input, new Map(ours.positions.map((p) => [p.securityId, p.adjusted])));
  const theirs = evaluateConstrained(input, reference.x);
  expect(mine.problems, `${label}: our answer meets every constraint`).toEqual([]);
  expect(theirs.problems, `${label}: the reference answer meets every constraint`).toEqual([]);
  expect(mine.drift.toFixed(), `${label}: drift equals the reference optimum`).toBe(theirs.drift.toFixed());
  expect(mine.trade.lessThanOrEqualTo(theirs.trade), `${label}: trades no more than the reference`).toBe(true);
  return { verdict: 'feasible' };
}

/** One part of the 1 040-instance corpus of issue 19 (4 files, so test workers share it). */
export function constrainedCorpusPart(part: number): void {
  const size = 260;
  const first = (part - 1) * size + 1;
  it(`matches the MILP reference (binaries for the minimum-trade holes) on constrained seeds ${first}..${first + size - 1}`, async () => {
    const seen: Record<string, number> = { feasible: 0, binding: 0, bindingWithHoles: 0 };
    for (let seed = first; seed < first + size; seed++) {
      const input = generateConstrained(seed);
      const core = decide(prepare(exactInput(input)));
      const outcome = await checkConstrained(input, `constrained seed ${seed}`);
      const key = outcome.verdict === 'feasible' ? 'feasible' : (outcome.reason ?? 'infeasible');
      seen[key] = (seen[key] ?? 0) + 1;
      if (outcome.verdict === 'feasible' && core.kind === 'sell_down')
        seen[core.allowed === undefined ? 'binding' : 'bindingWithHoles']! += 1;
    }
    // Every kind of answer: feasible, the cash binding (with and without holes), and each reason for infeasible.
    expect(seen.feasible).toBeGreaterThan(120);
    expect(seen.binding).toBeGreaterThan(5);
    expect(seen.bindingWithHoles).toBeGreaterThan(5);
    for (const reason of ['band', 'cash', 'min_trade', 'withdrawal']) expect(seen[reason], reason).toBeGreaterThan(0);
  }, 300_000);
}
