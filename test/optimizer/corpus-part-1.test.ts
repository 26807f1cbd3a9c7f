// The optimiser against HiGHS, exactly: corpus part 1 of 4.
import { corpusPart } from './check.js';

corpusPart(1);
