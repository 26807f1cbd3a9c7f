// The last word before an answer leaves: every band and the cash constraint
// re-checked on the final holdings u' = f + k (k the whole shares decided, f
// the kept fraction of the current holding) in exact integer arithmetic. A
// failure here is a bug. Issue 19 adds the cash flow (in MV), the minimum cash
// (the cash constraint becomes Σ u'·p <= MV·(1 − minCash)), each restriction's
// rule and relaxed band, and the minimum trade value; each is checked here from
// the problem's figures, not from the decisions that produced the answer.
import { ceilDiv, floorDiv, pow10 } from './bigint-math.js';
import type { ScaledProblem } from './scaled.js';

export class OptimizerBug extends Error {
  override name = 'OptimizerBug';
}

/** `whole` holds k per security: the whole shares held beside the fraction kept. */
export function verify(problem: ScaledProblem, whole: Float64Array): void {
  const { n, MV, P, Q, F, FV, W, LO, HI, sm, sw, sp, sq, ids, R, K0 } = problem;
  const toValue = pow10(sm + sw - sp);
  const quantityScale = pow10(sq);
  let spend = 0n;
  const T = problem.minTradeValue;
  const st = T === null ? 0 : Math.max(T.scale, sp);
  const priceToTrade = pow10(st - sp);
  const minTrade = T === null ? 0n : T.digits * pow10(st - T.scale);
  for (let i = 0; i < n; i++) {
    const k = whole[i]!;
    const k0 = K0[i]!;
    const rule = R[i] ?? null;
    const K = BigInt(k);
    if (!Number.isSafeInteger(k)) throw new OptimizerBug(`${ids[i]}: ${k} is not a whole number of shares`);
    // Only a restricted holding left where it is may stay below zero (a short the rule keeps).
    if (k < 0 && !(rule !== null && K === k0)) throw new OptimizerBug(`${ids[i]}: ${k} is not a whole number of shares >= 0`);
    if (F[i] !== 0n && (K * quantityScale + F[i]! - Q[i]!) % quantityScale !== 0n) {
      throw new OptimizerBug(`${ids[i]}: the trade is not a whole number of shares`);
    }
    const value = K * P[i]! * toValue + FV[i]!; // u'·p = (k + f)·p at scale sm + sw
    const inBand = value >= MV * (W[i]! - LO[i]!) && value <= MV * (W[i]! + HI[i]!);
    if (rule === 'frozen' && K !== k0) throw new OptimizerBug(`${ids[i]}: frozen, yet traded`);
    if (rule === 'no_buy' && K > k0) throw new OptimizerBug(`${ids[i]}: restricted no_buy, yet bought`);
    if (rule === 'no_sell' && K < k0) throw new OptimizerBug(`${ids[i]}: restricted no_sell, yet sold`);
    if (!inBand && !(rule !== null && K === k0 && !ruleMeetsBand(problem, i))) {
      throw new OptimizerBug(
        `${ids[i]}: a holding of ${k} whole shares${F[i] === 0n ? '' : ' and a fraction'} falls outside the drift band`,
      );
    }
    // |k − k0|·p >= T, compared at one scale.
    if (T !== null && K !== k0 && K !== 0n && (K > k0 ? K - k0 : k0 - K) * P[i]! * priceToTrade < minTrade) {
      throw new OptimizerBug(`${ids[i]}: a trade worth less than the minimum trade value`);
    }
    spend += value;
  }
  if (spend > problem.CAP) {
    throw new OptimizerBug(
      problem.MC === 0n ? 'the orders spend more than the market value' : 'the orders leave less cash than the minimum cash',
    );
  }
}

/** Does some whole number of shares >= 0 in security i's band obey its rule? (Else the rule keeps the holding.) */
function ruleMeetsBand(problem: ScaledProblem, i: number): boolean {
  const { MV, P, W, LO, HI, FV, sm, sw, sp, K0, R } = problem;
  const den = P[i]! * pow10(sm + sw - sp);
  let low = ceilDiv(MV * (W[i]! - LO[i]!) - FV[i]!, den);
  if (low < 0n) low = 0n;
  let high = floorDiv(MV * (W[i]! + HI[i]!) - FV[i]!, den);
  const rule = R[i];
  if (rule === 'frozen') return false;
  if (rule === 'no_buy' && high > K0[i]!) high = K0[i]!;
  if (rule === 'no_sell' && low < K0[i]!) low = K0[i]!;
  return low <= high;
}
