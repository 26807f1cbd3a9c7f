// The optimiser against HiGHS, exactly, on fractional holdings (whole-share
// trades keep the fraction: rebalancing.md, u' = f + k): part 1 of 2.
import { fractionalCorpusPart } from './check.js';

fractionalCorpusPart(1);
