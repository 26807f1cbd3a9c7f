// `sort_by` as every sortable list of api.md reads it: comma-separated fields,
// each optionally prefixed + (ascending, the default) or - (descending).
import { ValidationError } from './errors.js';

export interface SortKey<F extends string> {
  readonly field: F;
  readonly direction: 1 | -1;
}

const invalid = (message: string, detail: string) => new ValidationError(message, [{ path: 'sort_by', message: detail }]);

/**
 * Parses `sort_by` ("-rebalance_date, model_name"). Items are trimmed and
 * empty ones skipped, so an empty `sort_by` is the default order (what the
 * Python service accepted). A "+" that arrived unencoded in a query string is
 * a space, which trimming turns into the default, ascending. An unknown or
 * repeated field is a 400.
 */
export function parseSortBy<F extends string>(raw: string | undefined, fields: readonly F[]): SortKey<F>[] {
  const keys: SortKey<F>[] = [];
  for (const item of (raw ?? '').split(',')) {
    const trimmed = item.trim();
    if (trimmed === '') continue;
    const match = /^([+-]?)\s*([A-Za-z_]+)$/.exec(trimmed);
    const field = match?.[2];
    const notField = `"${trimmed}" is not a field name with an optional + or - prefix`;
    if (match === null || field === undefined) throw invalid(`sort_by item ${notField}`, notField);
    if (!(fields as readonly string[]).includes(field)) {
      throw invalid(`sort_by field "${field}" is not one of ${fields.join(', ')}`, `"${field}" is not one of ${fields.join(', ')}`);
    }
    if (keys.some((k) => k.field === field)) throw invalid(`sort_by names "${field}" more than once`, `"${field}" appears more than once`);
    keys.push({ field: field as F, direction: match[1] === '-' ? -1 : 1 });
  }
  return keys;
}
