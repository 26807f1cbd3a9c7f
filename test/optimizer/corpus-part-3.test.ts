// The optimiser against HiGHS, exactly: corpus part 3 of 4.
import { corpusPart } from './check.js';

corpusPart(3);
