// What the command line shows: the progress of each model rebalance on stderr
// (a cli-progress bar on a terminal, plain lines otherwise), and the answer on
// stdout as a summary table or the full JSON. Drift reports (issue 18) read as
// tables, worst first, made from the JSON the HTTP routes answer, so the CLI
// shows exactly what the API says.
import cliProgress from 'cli-progress';
import type { z } from 'zod';
import { abs, compare, dec } from './domain/decimal.js';
import type { ModelDriftDto, PortfolioDriftDto } from './modules/drift/routes.js';
import { type ProgressRegistry, type ProgressSnapshot, rateOf } from './modules/rebalancing/progress.js';
import type { RebalanceDto } from './modules/rebalancing/schemas.js';
import type { toCycleDto } from './modules/scheduling/routes.js';

/**
 * Follows the rebalances running in this process until `stop`: on a terminal
 * a bar per rebalance; otherwise a line when one begins, one every
 * `linesEveryMs` (0: none in between) and one when it ends.
 */
export function watchProgress(registry: ProgressRegistry, stream: NodeJS.WriteStream, linesEveryMs: number): { stop(): void } {
  const tty = stream.isTTY === true;
  const bars = new Map<string, cliProgress.SingleBar>();
  const label = (p: ProgressSnapshot) => `model ${p.modelId}${p.rebalanceId === null ? ' (dry run)' : ''}`;
  const line = (p: ProgressSnapshot) => {
    const { rate, etaSeconds } = rateOf(p, performance.now());
    const left = etaSeconds === null ? '' : `, about ${etaSeconds} s left`;
    stream.write(`${label(p)}: ${p.done}/${p.total} portfolios, ${rate.toFixed(1)}/s${left}\n`);
  };
  const update = (p: ProgressSnapshot) => bars.get(p.key)?.update(p.done, { rate: rateOf(p, performance.now()).rate.toFixed(1) });

  const unlisten = registry.listen((event, p) => {
    if (event === 'begin') {
      if (!tty) {
        stream.write(`${label(p)}: rebalancing ${p.total} portfolios\n`);
        return;
      }
      const bar = new cliProgress.SingleBar(
        {
          stream,
          format: `${label(p)} {bar} {value}/{total} portfolios | {rate}/s | ETA {eta_formatted}`,
          hideCursor: false,
          fps: 5,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(p.total, 0, { rate: '0.0' });
      bars.set(p.key, bar);
      return;
    }
    const elapsed = performance.now() - p.startedMs;
    update(p);
    bars.get(p.key)?.stop();
    bars.delete(p.key);
    if (!tty) stream.write(`${label(p)}: ${p.done}/${p.total} portfolios after ${(elapsed / 1000).toFixed(1)} s\n`);
  });

  // A bar moves five times a second; a plain line comes every `linesEveryMs`.
  const timer =
    tty || linesEveryMs > 0
      ? setInterval(() => registry.running().forEach(tty ? update : line), tty ? 200 : linesEveryMs).unref()
      : undefined;

  return {
    stop() {
      unlisten();
      clearInterval(timer);
      for (const bar of bars.values()) bar.stop();
      bars.clear();
    },
  };
}

/** Columns padded to their widest cell. */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const format = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [format(header), format(widths.map((w) => '-'.repeat(w))), ...rows.map(format)].join('\n');
}

/** A rebalance's answer (one RebalanceDTO or an array of them) as a table with a total line. */
export function answerTable(answer: RebalanceDto | RebalanceDto[]): string {
  const all = Array.isArray(answer) ? answer : [answer];
  const count = (a: RebalanceDto, type: 'BUY' | 'SELL') => a.transactions.filter((t) => t.transaction_type === type).length;
  const rows = all.map((a) => [
    a.portfolio_id,
    a.portfolio_name ?? '',
    a.status,
    String(count(a, 'BUY')),
    String(count(a, 'SELL')),
    a.error?.message ?? '',
  ]);
  const infeasible = all.filter((a) => a.status === 'infeasible').length;
  const inBand = all.filter((a) => a.status === 'in_band').length;
  const trades = all.reduce((n, a) => n + a.transactions.length, 0);
  const id = all[0]?.rebalance_id ?? null;
  return (
    `${table(['portfolio', 'name', 'status', 'buys', 'sells', 'error'], rows)}\n` +
    `${all.length} portfolio${all.length === 1 ? '' : 's'}, ${infeasible} infeasible, ${inBand} in band, ${trades} trade${trades === 1 ? '' : 's'}; ` +
    `${id === null ? 'dry run: nothing stored' : `stored as rebalance ${id}`}`
  );
}

/** A cycle's record as a few lines. */
export function cycleSummary(cycle: ReturnType<typeof toCycleDto>): string {
  const rows: [string, string][] = [
    ['cycle', cycle.cycle_id],
    ['status', cycle.status],
    ['models', String(cycle.models)],
    ['portfolios', `${cycle.portfolios} (${cycle.infeasible_portfolios} infeasible, ${cycle.in_band_portfolios} in band)`],
    ['orders', `${cycle.orders_submitted} submitted, ${cycle.orders_failed} not taken`],
    ['upstream failures', String(cycle.upstream_failures)],
    ['rebalances', cycle.rebalance_ids.join(', ') || '-'],
    ...cycle.errors.map((e): [string, string] => ['error', e]),
  ];
  return table(['', ''], rows).split('\n').slice(2).join('\n');
}

// ---- drift reports ----

/** GET /model/{id}/drift?sort_by=-total_drift as a table (unvalued portfolios last, with their reason). */
export function modelDriftTable(report: z.output<typeof ModelDriftDto>): string {
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
export function portfolioDriftTable(report: z.output<typeof PortfolioDriftDto>): string {
  const securities = [...report.securities].sort(
    (a, b) => compare(abs(dec(b.drift)), abs(dec(a.drift))) || (a.security_id < b.security_id ? -1 : a.security_id > b.security_id ? 1 : 0),
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
