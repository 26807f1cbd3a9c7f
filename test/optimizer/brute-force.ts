// The exhaustive reference for small instances: every vector of holdings
// f + k (k whole shares in the bands, f the kept fraction), ranked exactly by
// (drift, trade value, quantities in id order).

import { bands, fractionOf, marketValue } from './exact.js';
import type { OptimizerInput } from './oracle.js';
import { Dec } from './oracle.js';

export function bruteForce(input: OptimizerInput): Map<string, Dec> | null {
  const mv = marketValue(input);
  const securities = [...input.securities].sort((a, b) => (a.securityId < b.securityId ? -1 : 1));
  const band = bands({ ...input, securities });
  if (band.some((b) => b.low.greaterThan(b.high))) return null;
  let best: { x: Dec[]; drift: Dec; trade: Dec } | null = null;
  const x: Dec[] = [];
  const walk = (i: number, spend: Dec, drift: Dec, trade: Dec) => {
    if (spend.greaterThan(mv)) return;
    if (i === securities.length) {
      const better =
        best === null ||
        drift.lessThan(best.drift) ||
        (drift.equals(best.drift) &&
          (trade.lessThan(best.trade) ||
            (trade.equals(best.trade) &&
              x.findIndex((q, k) => !q.equals(best!.x[k]!)) >= 0 &&
              x[x.findIndex((q, k) => !q.equals(best!.x[k]!))]!.lessThan(best.x[x.findIndex((q, k) => !q.equals(best!.x[k]!))]!))));
      if (better) best = { x: [...x], drift, trade };
      return;
    }
    const s = securities[i]!;
    const f = fractionOf(s);
    for (let q = band[i]!.low.plus(f); q.lessThanOrEqualTo(band[i]!.high.plus(f)); q = q.plus(1)) {
      x[i] = q;
      const value = q.times(s.price);
      walk(
        i + 1,
        spend.plus(value),
        drift.plus(mv.times(s.target).minus(value).abs()),
        trade.plus(q.minus(s.quantity).abs().times(s.price)),
      );
    }
    x.length = i;
  };
  walk(0, new Dec(0), new Dec(0), new Dec(0));
  if (best === null) return null;
  const found: { x: Dec[] } = best;
  return new Map(securities.map((s, i) => [s.securityId, found.x[i]!]));
}

/** How many vectors the brute force would visit. */
export function searchSize(input: OptimizerInput): number {
  return bands(input).reduce((size, b) => size * Math.max(0, b.high.minus(b.low).plus(1).toNumber()), 1);
}
