// The last word before an answer leaves: every band and the cash constraint
// re-checked on the final whole numbers in exact integer arithmetic, and the
// drifts before and after computed exactly. A failure here is a bug.
import { abs, pow10 } from './bigint-math.js';
import type { ScaledProblem } from './scaled.js';

export class OptimizerBug extends Error {
  override name = 'OptimizerBug';
}

export interface Verified {
  /** Σ |MV·w − u·p| before and after, at scale sm + sw + sq. */
  readonly driftBefore: bigint;
  readonly driftAfter: bigint;
  readonly driftScale: number;
}

export function verify(problem: ScaledProblem, quantities: Float64Array): Verified {
  const { n, MV, P, Q, W, LO, HI, sm, sw, sp, sq, ids } = problem;
  const toValue = pow10(sm + sw - sp);
  const quantityScale = pow10(sq);
  let spend = 0n;
  let driftBefore = 0n;
  let driftAfter = 0n;
  for (let i = 0; i < n; i++) {
    const x = quantities[i]!;
    if (!Number.isSafeInteger(x) || x < 0) throw new OptimizerBug(`${ids[i]}: ${x} is not a whole number of shares >= 0`);
    const value = BigInt(x) * P[i]! * toValue; // u'·p at scale sm + sw
    if (value < MV * (W[i]! - LO[i]!) || value > MV * (W[i]! + HI[i]!)) {
      throw new OptimizerBug(`${ids[i]}: ${x} shares fall outside the drift band`);
    }
    spend += BigInt(x) * P[i]!;
    const target = MV * W[i]!;
    driftAfter += abs(target - value);
    driftBefore += abs(target * quantityScale - Q[i]! * P[i]! * toValue);
  }
  if (spend * pow10(sm - sp) > MV) throw new OptimizerBug('the orders spend more than the market value');
  return { driftBefore, driftAfter: driftAfter * quantityScale, driftScale: sm + sw + sq };
}
