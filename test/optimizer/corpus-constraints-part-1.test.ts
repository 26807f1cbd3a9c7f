// Issue 19: cash flows, minimum cash, restrictions and minimum trades against HiGHS, exactly: part 1 of 4.
import { constrainedCorpusPart } from './constrained.js';

constrainedCorpusPart(1);
