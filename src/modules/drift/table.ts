// The command line's readable drift reports (issue 18): plain-text tables,
// worst first. Reads the JSON the HTTP routes answer, so the CLI shows exactly
// what the API says.

interface Row {
  readonly portfolio_id: string;
  readonly portfolio_name: string | null;
  readonly status: string;
  readonly reason: string | null;
  readonly market_value: string | null;
  readonly total_drift: string | null;
  readonly securities_out_of_band: number | null;
}

interface SecurityRow {
  readonly security_id: string;
  readonly weight: string;
  readonly target: string;
  readonly band_low: string;
  readonly band_high: string;
  readonly drift: string;
  readonly in_band: boolean;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** |a| > |b| for decimal strings, compared as text (no floating point): longer integer part, then digits. */
function magnitudeAbove(a: string, b: string): number {
  const strip = (s: string) => s.replace(/^-/, '');
  const [ai = '', af = ''] = strip(a).split('.');
  const [bi = '', bf = ''] = strip(b).split('.');
  if (ai.length !== bi.length) return ai.length > bi.length ? 1 : -1;
  const width = Math.max(af.length, bf.length);
  const x = ai + af.padEnd(width, '0');
  const y = bi + bf.padEnd(width, '0');
  return x === y ? 0 : x > y ? 1 : -1;
}

/** GET /model/{id}/drift?sort_by=-total_drift as a table (unvalued portfolios last, with their reason). */
export function modelDriftTable(report: {
  model_id: string;
  model_name: string;
  summary: { portfolios: number; in_band: number; out_of_band: number; unvalued: number };
  portfolios: readonly Row[];
}): string {
  const s = report.summary;
  const rows = report.portfolios.map((r) => [
    r.portfolio_id,
    r.portfolio_name ?? '',
    r.status,
    r.total_drift ?? '-',
    r.securities_out_of_band === null ? '-' : String(r.securities_out_of_band),
    r.market_value ?? '-',
    r.reason ?? '',
  ]);
  return [
    `Model ${report.model_name} (${report.model_id}): ${s.portfolios} portfolios, ${s.in_band} in band, ${s.out_of_band} out of band, ${s.unvalued} not valued`,
    table(['PORTFOLIO', 'NAME', 'STATUS', 'TOTAL DRIFT', 'OUT OF BAND', 'MARKET VALUE', 'REASON'], rows),
  ].join('\n');
}

/** GET /portfolio/{id}/drift as a table, securities with the largest drift first. */
export function portfolioDriftTable(
  report: Row & { cash: string; cash_weight: string | null; securities: readonly SecurityRow[] },
): string {
  const securities = [...report.securities].sort(
    (a, b) => magnitudeAbove(b.drift, a.drift) || (a.security_id < b.security_id ? -1 : a.security_id > b.security_id ? 1 : 0),
  );
  const head =
    `Portfolio ${report.portfolio_id}${report.portfolio_name === null ? '' : ` (${report.portfolio_name})`}: ${report.status}` +
    (report.status === 'unvalued'
      ? `: ${report.reason}`
      : `, total drift ${report.total_drift}, market value ${report.market_value}, cash ${report.cash} (${report.cash_weight})`);
  const rows = securities.map((r) => [
    r.security_id,
    r.weight,
    r.target,
    `${r.band_low} .. ${r.band_high}`,
    r.drift,
    r.in_band ? 'yes' : 'NO',
  ]);
  return [head, table(['SECURITY', 'WEIGHT', 'TARGET', 'BAND', 'DRIFT', 'IN BAND'], rows)].join('\n');
}
