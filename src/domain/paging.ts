// Offset paging, as every list route of api.md does it: an offset at or past
// the end is an empty page (the total is in x-total-count), which is what the
// portal relies on when items are deleted between its page loads.

/** The first index of the page: `offset` (default 0), at most `total`. */
export function pageStart(offset: number | undefined, total: number): number {
  return Math.min(offset ?? 0, total);
}
