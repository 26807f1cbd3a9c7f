// A seeded generator of optimiser instances (issue 3, "Proof"): random books,
// large ones, and a "tight" family where the cash constraint binds.
import { Dec } from '../../src/domain/decimal.js';
import type { OptimizerInput, OptimizerSecurity } from '../../src/optimizer/index.js';
import { random } from '../../tools/random.js';

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
    const drift = () =>
      family === 'tight' ? decimal(Math.min(0.05, weight * between(0.5, 1.5)), 3) : decimal(between(0, 0.05), 3);
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
