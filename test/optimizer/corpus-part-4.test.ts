// The optimiser against HiGHS, exactly: corpus part 4 of 4.
import { corpusPart } from './check.js';

corpusPart(4);
