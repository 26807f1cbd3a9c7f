// The optimiser against HiGHS, exactly: corpus part 2 of 4.
import { corpusPart } from './check.js';

corpusPart(2);
