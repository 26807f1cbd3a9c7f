// The band objective against HiGHS, exactly: part 1 of 2 (issue 18).
import { bandCorpusPart } from './band-check.js';

bandCorpusPart(1);
