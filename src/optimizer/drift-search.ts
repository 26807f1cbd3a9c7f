// A fast first answer for the cash-binding case: least drift only (no
// tie-breaks), by depth-first branch and bound in order of first-share
// discount per unit of cash, where the LP bound is a prefix computation. Its
// answer seeds the exact lexicographic search (knapsack.ts) and the fill DP,
// which then only have to look at answers at least as good.
import { ceilDiv, gcd } from './bigint-math.js';
import type { Deadline, KnapsackItem, KnapsackProblem } from './knapsack.js';
import { byDiscountPerCash, SolverTimeout } from './knapsack.js';

const CHECK_EVERY = 1024;

/** Shares to sell per item (in the order given) with the least drift found within `maxNodes`. */
export function leastDriftSeed(problem: KnapsackProblem, deadline: Deadline, maxNodes: number): number[] | null {
  const order: KnapsackItem[] = [...problem.items].sort(
    (a, b) => byDiscountPerCash(a, b) || (a.price === b.price ? a.index - b.index : a.price > b.price ? -1 : 1),
  );
  const m = order.length;
  const prefixPrice: bigint[] = [0n];
  const prefixOvershoot: bigint[] = [0n];
  for (const it of order) {
    prefixPrice.push(prefixPrice[prefixPrice.length - 1]! + it.price);
    prefixOvershoot.push(prefixOvershoot[prefixOvershoot.length - 1]! + it.overshoot);
  }
  const capacity: bigint[] = new Array<bigint>(m + 1).fill(0n);
  const suffixGcd: bigint[] = new Array<bigint>(m + 1).fill(0n);
  for (let j = m - 1; j >= 0; j--) {
    capacity[j] = capacity[j + 1]! + BigInt(order[j]!.maxShares) * order[j]!.price;
    suffixGcd[j] = gcd(suffixGcd[j + 1]!, order[j]!.price);
  }

  const k = new Array<number>(m).fill(0);
  let best: number[] | null = null;
  let bestDrift = 0n;
  let nodes = 0;

  /** drift + LP bound of freeing `need` with items j.. < bestDrift ? */
  const canBeat = (j: number, need: bigint, drift: bigint): boolean => {
    if (capacity[j]! < need) return false;
    if (best === null) return true;
    const g = suffixGcd[j]!;
    const reach = ceilDiv(need, g) * g;
    let lo = j;
    let hi = m;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (prefixPrice[mid]! - prefixPrice[j]! <= reach) lo = mid;
      else hi = mid - 1;
    }
    const gap = drift + reach - 2n * (prefixOvershoot[lo]! - prefixOvershoot[j]!) - bestDrift;
    if (lo === m) return gap < 0n;
    const rest = reach - (prefixPrice[lo]! - prefixPrice[j]!);
    return gap * order[lo]!.price < 2n * rest * order[lo]!.overshoot;
  };

  const search = (j: number, need: bigint, drift: bigint): void => {
    if (++nodes > maxNodes) throw new SolverTimeout();
    if ((nodes & (CHECK_EVERY - 1)) === 1 && deadline.now() > deadline.at) throw new SolverTimeout();
    if (!canBeat(j, need, drift)) return;
    const it = order[j]!;
    const cover = ceilDiv(need, it.price);
    const most = cover < BigInt(it.maxShares) ? Number(cover) : it.maxShares;
    for (let count = most; count >= 0; count--) {
      k[j] = count;
      const freed = BigInt(count) * it.price;
      const next = count === 0 ? drift : drift + freed - 2n * it.overshoot;
      if (need - freed <= 0n) {
        if (best === null || next < bestDrift) {
          for (let r = j + 1; r < m; r++) k[r] = 0;
          best = [...k];
          bestDrift = next;
        }
      } else if (j + 1 < m) {
        search(j + 1, need - freed, next);
      }
    }
    k[j] = 0;
  };

  try {
    search(0, problem.need, 0n);
  } catch (error) {
    if (!(error instanceof SolverTimeout)) throw error;
  }
  const found = best as number[] | null; // assigned in the search closure
  if (found === null) return null;
  const byItem = new Map(order.map((it, j) => [it, found[j]!]));
  return problem.items.map((it) => byItem.get(it)!);
}
