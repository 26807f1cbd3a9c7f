// The last word before an answer leaves: every band and the cash constraint
// re-checked on the final holdings u' = f + k (k the whole shares decided, f
// the kept fraction of the current holding) in exact integer arithmetic. A
// failure here is a bug.
import { pow10 } from './bigint-math.js';
import type { ScaledProblem } from './scaled.js';

export class OptimizerBug extends Error {
  override name = 'OptimizerBug';
}

/** `whole` holds k per security: the whole shares held beside the fraction kept. */
export function verify(problem: ScaledProblem, whole: Float64Array): void {
  const { n, MV, P, Q, F, FV, W, LO, HI, sm, sw, sp, sq, ids } = problem;
  const toValue = pow10(sm + sw - sp);
  const quantityScale = pow10(sq);
  let spend = 0n;
  for (let i = 0; i < n; i++) {
    const k = whole[i]!;
    if (!Number.isSafeInteger(k) || k < 0) throw new OptimizerBug(`${ids[i]}: ${k} is not a whole number of shares >= 0`);
    if (F[i] !== 0n && (BigInt(k) * quantityScale + F[i]! - Q[i]!) % quantityScale !== 0n) {
      throw new OptimizerBug(`${ids[i]}: the trade is not a whole number of shares`);
    }
    const value = BigInt(k) * P[i]! * toValue + FV[i]!; // u'·p = (k + f)·p at scale sm + sw
    if (value < MV * (W[i]! - LO[i]!) || value > MV * (W[i]! + HI[i]!)) {
      throw new OptimizerBug(
        `${ids[i]}: a holding of ${k} whole shares${F[i] === 0n ? '' : ' and a fraction'} falls outside the drift band`,
      );
    }
    spend += value;
  }
  if (spend > MV * pow10(sw)) throw new OptimizerBug('the orders spend more than the market value');
}
