// The cash-binding case by dynamic programming over the cash freed, for
// instances where branch and bound struggles: cheap shares that can be sold by
// the thousand make the tie-break on trade value a subset-sum question.
//
// V_j(f) = the least (drift, trade) of freeing exactly f units of cash with
// securities j.. (a unit is the gcd of their share prices). Each security's
// cost of selling k shares is its discounted first share followed by runs of
// shares of equal cost; every run is a bounded linear item, applied with a
// sliding-window minimum per residue class, so a security costs O(F) however
// many shares it has. The answer is rebuilt forwards in security-id order,
// taking at each step the most shares that keep the optimum: the smallest
// quantities in id order among the optima. Exact: costs are integers held in
// doubles, and the caller only comes here when they all stay below 2^53.

import { abs, ceilDiv, gcd, minBig, pow10 } from './bigint-math.js';
import { byDiscountPerCash, type KnapsackItem, type KnapsackProblem } from './knapsack.js';
import { driftDelta, type Piece, piecesOf, tradeDelta } from './pieces.js';

/** States the DP may hold (each layer keeps two doubles per state). */
const FILL_DP_MAX_STATES = 4_000_000;

const SAFE = 2 ** 52;

/**
 * The drift of a quick feasible answer: first shares in order of discount per
 * unit of cash while they fit, then whole shares dearest first, and the
 * cheapest share to cover what is left.
 */
function greedyDrift(problem: KnapsackProblem): bigint {
  let need = problem.need;
  let drift = 0n;
  const left = new Map<KnapsackItem, bigint>();
  /** Sells up to `wanted` more shares of `it`, the first one with its discount. */
  const sell = (it: KnapsackItem, wanted: bigint) => {
    const available = left.get(it) ?? BigInt(it.maxShares);
    const count = minBig(available, wanted);
    if (count <= 0n) return;
    need -= count * it.price;
    drift += count * it.price - (left.has(it) ? 0n : 2n * it.overshoot);
    left.set(it, available - count);
  };
  for (const it of [...problem.items].sort(byDiscountPerCash)) if (need > 0n && it.price <= need) sell(it, 1n);
  const byPrice = [...problem.items].sort((a, b) => (a.price === b.price ? 0 : a.price > b.price ? -1 : 1));
  for (const it of byPrice) {
    if (need <= 0n) break;
    sell(it, need / it.price);
  }
  for (let i = byPrice.length - 1; i >= 0 && need > 0n; i--) sell(byPrice[i]!, ceilDiv(need, byPrice[i]!.price));
  return drift;
}

/** The largest F in [need, upTo] with F − 2·FK(F) <= drift (FK: fractional knapsack of discounts). */
function largestFreed(problem: KnapsackProblem, drift: bigint, upTo: bigint): bigint {
  const byRatio = [...problem.items].sort(byDiscountPerCash);
  // F − 2·FK(F) <= drift, without dividing: walk the items in ratio order.
  const fits = (freed: bigint): boolean => {
    let room = freed;
    let taken = 0n;
    for (const it of byRatio) {
      if (it.price <= room) {
        room -= it.price;
        taken += it.overshoot;
      } else {
        // freed − 2·(taken + room·o/p) <= drift  <=>  (freed − 2·taken − drift)·p <= 2·room·o
        return (freed - 2n * taken - drift) * it.price <= 2n * room * it.overshoot;
      }
    }
    return freed - 2n * taken <= drift;
  };
  let lo = problem.need;
  let hi = upTo;
  while (lo < hi) {
    const mid = (lo + hi + 1n) / 2n;
    if (fits(mid)) lo = mid;
    else hi = mid - 1n;
  }
  return lo;
}

/** The DP's layout, or null when it would be too large or its numbers not exact in doubles. */
function plan(problem: KnapsackProblem, knownDrift: bigint | null) {
  const items = problem.items;
  let unit = 0n;
  let maxPrice = 0n;
  for (const it of items) {
    unit = gcd(unit, it.price);
    if (it.price > maxPrice) maxPrice = it.price;
  }
  const lowestBig = ceilDiv(problem.need, unit);
  // An optimum never frees a whole share more than it needs, so F < need + max
  // price; and its drift F − 2·(discounts taken) is at most a quick feasible
  // answer's, while the discounts taken are at most the fractional knapsack
  // FK(F) of discounts within F: so F − 2·FK(F) <= that drift, which bounds F.
  const drift = knownDrift === null ? greedyDrift(problem) : minBig(knownDrift, greedyDrift(problem));
  const ceiling = largestFreed(problem, drift, lowestBig * unit + maxPrice);
  const widthBig = minBig(lowestBig + maxPrice / unit, ceiling / unit + 1n);
  if (widthBig * BigInt(items.length + 1) > BigInt(FILL_DP_MAX_STATES)) return null;
  const S = pow10(problem.sq);
  let driftSpan = 0n;
  let tradeSpan = 0n;
  for (const it of items) {
    driftSpan += BigInt(it.maxShares) * it.price;
    tradeSpan += (abs(it.b * S - it.Q) + BigInt(it.maxShares) * S) * it.P;
  }
  if (driftSpan >= BigInt(SAFE) || tradeSpan >= BigInt(SAFE)) return null;

  // Exact (drift, trade) of selling k shares of item i; per item its pieces, their per-share costs as doubles.
  const cost = (i: number, k: number): [number, number] => [Number(driftDelta(items[i]!, k)), Number(tradeDelta(items[i]!, S, k))];
  const pieces: Piece<number>[][] = items.map((it) =>
    piecesOf(it, S).map((piece) => ({ count: piece.count, drift: Number(piece.drift), trade: Number(piece.trade) })),
  );
  return {
    width: Number(widthBig),
    prices: items.map((it) => Number(it.price / unit)),
    pieces,
    cost,
    lowest: Number(lowestBig),
  };
}

/** (d1, t1) < (d2, t2), lexicographically. */
const below = (d1: number, t1: number, d2: number, t2: number) => d1 < d2 || (d1 === d2 && t1 < t2);

interface Scratch {
  readonly queue: Int32Array;
  readonly keyD: Float64Array;
  readonly keyT: Float64Array;
}

/** Applies one bounded linear piece in place: V(f) = min_t V(f − t·step) + t·cost, t <= count. */
function applyPiece(drift: Float64Array, trade: Float64Array, step: number, piece: Piece<number>, width: number, scratch: Scratch): void {
  const { queue, keyD, keyT } = scratch;
  for (let residue = 0; residue < step && residue < width; residue++) {
    let head = 0;
    let tail = 0;
    let s = 0;
    for (let f = residue; f < width; f += step, s++) {
      // Key of s as a source: V(s) − s·cost (read before f is overwritten).
      const kd = drift[f]! - s * piece.drift;
      const kt = trade[f]! - s * piece.trade;
      while (tail > head && !below(keyD[tail - 1]!, keyT[tail - 1]!, kd, kt)) tail--;
      queue[tail] = s;
      keyD[tail] = kd;
      keyT[tail] = kt;
      tail++;
      while (queue[head]! < s - piece.count) head++;
      drift[f] = keyD[head]! + s * piece.drift;
      trade[f] = keyT[head]! + s * piece.trade;
      if (drift[f] === Infinity) trade[f] = Infinity;
    }
  }
}

/** Shares to sell per item (in the order given), or null when the DP does not apply. */
export function solveByFill(problem: KnapsackProblem, tick: () => void, knownDrift: bigint | null = null): number[] | null {
  const layout = plan(problem, knownDrift);
  if (layout === null) return null;
  const { width, prices, pieces, cost, lowest } = layout;
  const m = problem.items.length;

  // layers[j] = V over items j.. (in id order); layers[m] = nothing sold.
  const layersD: Float64Array[] = new Array<Float64Array>(m + 1);
  const layersT: Float64Array[] = new Array<Float64Array>(m + 1);
  layersD[m] = new Float64Array(width).fill(Infinity);
  layersT[m] = new Float64Array(width).fill(Infinity);
  layersD[m]![0] = 0;
  layersT[m]![0] = 0;
  const scratch: Scratch = { queue: new Int32Array(width + 1), keyD: new Float64Array(width + 1), keyT: new Float64Array(width + 1) };
  for (let j = m - 1; j >= 0; j--) {
    tick();
    const d = Float64Array.from(layersD[j + 1]!);
    const t = Float64Array.from(layersT[j + 1]!);
    for (const piece of pieces[j]!) applyPiece(d, t, prices[j]!, piece, width, scratch);
    layersD[j] = d;
    layersT[j] = t;
  }

  // The best exact amount at or above the need; several amounts may tie.
  let bestD = Infinity;
  let bestT = Infinity;
  for (let f = lowest; f < width; f++) {
    if (below(layersD[0]![f]!, layersT[0]![f]!, bestD, bestT)) {
      bestD = layersD[0]![f]!;
      bestT = layersT[0]![f]!;
    }
  }
  if (bestD === Infinity) throw new Error('no way to free the overspend; the caller checks the cash bound first');
  let states: number[] = [];
  for (let f = lowest; f < width; f++) if (layersD[0]![f] === bestD && layersT[0]![f] === bestT) states.push(f);

  // Forwards in id order: the most shares that still reach an optimum.
  const result = new Array<number>(m).fill(0);
  let spentD = 0;
  let spentT = 0;
  for (let j = 0; j < m; j++) {
    const item = problem.items[j]!;
    let chosen = -1;
    let next: number[] = [];
    for (let k = Math.min(item.maxShares, Math.floor((width - 1) / prices[j]!)); k >= 0 && chosen < 0; k--) {
      const [cd, ct] = cost(j, k);
      const reached: number[] = [];
      for (const f of states) {
        const rest = f - k * prices[j]!;
        if (rest < 0) continue;
        if (spentD + cd + layersD[j + 1]![rest]! === bestD && spentT + ct + layersT[j + 1]![rest]! === bestT) reached.push(rest);
      }
      if (reached.length > 0) {
        chosen = k;
        next = reached;
        spentD += cd;
        spentT += ct;
      }
    }
    result[j] = chosen;
    states = next;
  }
  return result;
}
