// A seeded generator of optimiser instances (issue 3, "Proof"): random books,
// large ones, and a "tight" family where the cash constraint binds.

import { random } from '../../tools/random.js';
import type { OptimizerInput, OptimizerSecurity } from './oracle.js';
import { Dec } from './oracle.js';

export { random };

export type Family = 'book' | 'large' | 'tight';

export interface Instance {
  readonly seed: number;
  readonly family: Family;
  readonly input: OptimizerInput;
}

const id = (n: number) => `SEC${String(n).padStart(21, '0')}`;

/** Instance `seed` of a family; `size` fixes the number of securities (benchmarks). */
export function generate(seed: number, family: Family, size?: number): Instance {
  const rnd = random(seed);
  const between = (lo: number, hi: number) => lo + (hi - lo) * rnd();
  const int = (lo: number, hi: number) => Math.floor(between(lo, hi + 1));
  const logUniform = (lo: number, hi: number) => Math.exp(between(Math.log(lo), Math.log(hi)));
  const decimal = (value: number, places: number) => new Dec(value.toFixed(places));

  const drawn = family === 'large' ? int(101, 500) : family === 'tight' ? int(2, 60) : int(1, 100);
  const n = size ?? drawn;
  // A model holds at most 100 positions; larger problems are holdings outside it.
  const modelSize = Math.min(n, 100, family === 'tight' ? n : family === 'large' ? int(20, 100) : int(1, n));
  // Tight books are fully invested, so rounding up can overspend the 5% left in cash.
  const targetSum = family === 'tight' ? 0.95 : 0.8 + 0.005 * int(0, 30); // 0.80 .. 0.95
  // Split the target sum into modelSize multiples of 0.005 (each >= 0.005).
  const units = Math.round(targetSum / 0.005);
  const shares = Array.from({ length: modelSize }, () => 1);
  for (let extra = units - modelSize; extra > 0; extra--) shares[int(0, modelSize - 1)]! += 1;
  const mv = family === 'tight' ? logUniform(1e3, 1e7) : logUniform(1e3, 1e9);
  const pricePlaces = rnd() < 0.8 ? 2 : 4;
  const holdingStyle = int(0, 5); // none, near, far, shorts, fractional, mixed

  const securities: OptimizerSecurity[] = [];
  let held = new Dec(0);
  const order = Array.from({ length: n }, (_, i) => i).sort(() => rnd() - 0.5);
  for (let k = 0; k < n; k++) {
    const inModel = k < modelSize;
    const weight = inModel ? shares[k]! * 0.005 : 0;
    let price: number;
    if (family === 'tight' && inModel) {
      // A few shares per position, mostly just past half a share, so rounding to
      // the nearest share spends more than the target and the cash constraint binds.
      price = Math.max(0.5, (mv * weight) / (int(1, 4) + between(0.5, 0.97)));
    } else {
      price = logUniform(0.5, 5000);
    }
    const p = decimal(Math.max(price, 0.5), pricePlaces);
    const targetShares = (mv * weight) / p.toNumber();
    let quantity: Dec;
    const style = holdingStyle === 5 ? int(0, 4) : holdingStyle;
    if (!inModel) quantity = decimal(int(1, 2000), 0);
    else if (style === 0) quantity = new Dec(0);
    else if (style === 1) quantity = decimal(Math.max(0, Math.round(targetShares * between(0.97, 1.03))), 0);
    else if (style === 2) quantity = decimal(Math.round(targetShares * between(0, 3)), 0);
    else if (style === 3) quantity = decimal(Math.round(targetShares * between(-1, 1)), 0);
    else quantity = decimal(targetShares * between(0.5, 1.5), 3);
    // Tight bands are wide enough to sell a share back (up to the 0.05 cap).
    const drift = () => (family === 'tight' ? decimal(Math.min(0.05, weight * between(0.5, 1.5)), 3) : decimal(between(0, 0.05), 3));
    securities.push({
      securityId: id(order[k]!),
      quantity,
      price: p,
      target: new Dec(weight.toFixed(3)),
      lowDrift: inModel ? drift() : new Dec(0),
      highDrift: inModel ? drift() : new Dec(0),
    });
    held = held.plus(quantity.times(p));
  }
  // Cash makes the market value what was drawn (it may be negative).
  const cash = decimal(mv, 2).minus(held);
  return { seed, family, input: { securities, cash } };
}

/**
 * Instance `seed` of the fractional family: a tight or book instance whose
 * holdings are fractional (rebalancing.md: u' = f + k), near or far from the
 * target or short, with 1 to 4 decimals. In tight instances most fractions are
 * chosen so that the whole shares beside them round up, so the cash binds;
 * some bands reach down to 0 (only the fraction may remain), and one instance
 * in ten also holds a fraction of a security outside the model, which no
 * whole-share order can sell (infeasible). The market value drawn is kept:
 * cash makes up the difference.
 */
export function generateFractional(seed: number): Instance {
  const rnd = random(seed * 31 + 7);
  const between = (lo: number, hi: number) => lo + (hi - lo) * rnd();
  const tight = rnd() < 0.6;
  // Tight instances of at most 30 securities: past that HiGHS takes ~1 s each to prove the optimum.
  const base = generate(seed, tight ? 'tight' : 'book', tight ? 2 + (seed % 29) : undefined);
  const mv = base.input.securities.reduce((sum, s) => sum.plus(s.quantity.times(s.price)), base.input.cash);
  /** A fraction in (0, 1) with 1 to 4 decimals, near `wanted`. */
  const fraction = (wanted: number) => {
    const places = 1 + Math.floor(rnd() * 4);
    const f = new Dec((((wanted % 1) + 1) % 1).toFixed(places));
    return f.isZero() || f.equals(1) ? new Dec(1).dividedBy(2 ** places) : f;
  };
  const strayFraction = rnd() < 0.1;
  let stray = false;
  const securities = base.input.securities.map((s): OptimizerSecurity => {
    if (s.target.isZero()) {
      if (!strayFraction || stray) return s;
      stray = true;
      return { ...s, quantity: s.quantity.plus(fraction(between(0.01, 0.99))) };
    }
    const t = mv.times(s.target).dividedBy(s.price).toNumber();
    const style = rnd();
    const whole =
      style < 0.5 ? Math.round(t * between(0.9, 1.1)) : style < 0.85 ? Math.round(t * between(0, 2)) : -Math.ceil(between(0, 3));
    // k's target is t − f: its fractional part frac(t) − f, past one half when the cash is to bind.
    const f = tight && rnd() < 0.8 ? fraction((t % 1) - between(0.5, 0.97)) : fraction(between(0.01, 0.99));
    return { ...s, quantity: new Dec(whole).plus(f), lowDrift: rnd() < 0.2 ? s.target : s.lowDrift };
  });
  const held = securities.reduce((sum, s) => sum.plus(s.quantity.times(s.price)), new Dec(0));
  return { seed, family: base.family, input: { securities, cash: mv.minus(held) } };
}

/**
 * The corpus: instance `seed` for seeds start..start+count-1; 80% books, 15%
 * tight (cash binds), 5% large (101 to 500 securities).
 */
export function corpus(start: number, count: number): Instance[] {
  const out: Instance[] = [];
  for (let seed = start; seed < start + count; seed++) {
    const slot = seed % 20;
    const family: Family = slot === 7 ? 'large' : slot === 3 || slot === 11 || slot === 17 ? 'tight' : 'book';
    out.push(generate(seed, family));
  }
  return out;
}
