// Offset paging, as every list route of api.md does it: an offset past the
// end is a 400 that says how many there are.
import { ValidationError } from './errors.js';

/** The first index of the page: `offset` (default 0), checked against `total` things called `noun` (plural with "s"). */
export function pageStart(offset: number | undefined, total: number, noun: string): number {
  const start = offset ?? 0;
  if (start > total) {
    throw new ValidationError(`offset ${start} is past the end: there ${total === 1 ? `is 1 ${noun}` : `are ${total} ${noun}s`}`, [
      { path: 'offset', message: `must be at most ${total}` },
    ]);
  }
  return start;
}
