// Issue 19: cash flows, minimum cash, restrictions and minimum trades against HiGHS, exactly: part 2 of 4.
import { constrainedCorpusPart } from './constrained.js';

constrainedCorpusPart(2);
