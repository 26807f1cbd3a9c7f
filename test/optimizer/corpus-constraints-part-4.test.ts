// Issue 19: cash flows, minimum cash, restrictions and minimum trades against HiGHS, exactly: part 4 of 4.
import { constrainedCorpusPart } from './constrained.js';

constrainedCorpusPart(4);
