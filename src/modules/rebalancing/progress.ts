// How far each model rebalance running in this process has got: a log line
// per rebalance every few seconds (done/total, rate, estimated time left), a
// gauge of the portfolios in flight per running rebalance, and the figures the
// command line's progress bar and the cycle records read.
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';

/** What is known of one running rebalance right now. */
export interface ProgressSnapshot {
  /** The rebalance id; `dry-run-N` for a dry run (which has none). */
  readonly key: string;
  readonly rebalanceId: string | null;
  readonly modelId: string;
  /** Run by a scheduled cycle (one at a time per process), not for a caller. */
  readonly cycle: boolean;
  readonly total: number;
  readonly done: number;
  readonly inFlight: number;
  readonly startedMs: number;
}

/** Portfolios per second since the start, and the seconds left at that rate (null until a portfolio is done). */
export function rateOf(p: ProgressSnapshot, nowMs: number): { rate: number; etaSeconds: number | null } {
  const seconds = Math.max(0.001, (nowMs - p.startedMs) / 1000);
  const rate = p.done / seconds;
  return { rate, etaSeconds: p.done === 0 ? null : Math.round((p.total - p.done) / rate) };
}

type Entry = { -readonly [K in keyof ProgressSnapshot]: ProgressSnapshot[K] };

export function createProgressRegistry(nowMs: () => number = () => performance.now()) {
  const entries = new Map<string, Entry>();
  let dryRuns = 0;
  let timer: NodeJS.Timeout | null = null;
  const listeners = new Set<(event: 'begin' | 'end', progress: ProgressSnapshot) => void>();
  const tell = (event: 'begin' | 'end', e: Entry) => {
    for (const listener of listeners) listener(event, { ...e });
  };

  return {
    /** One running model rebalance, as the service reports it. */
    begin(run: Pick<ProgressSnapshot, 'rebalanceId' | 'modelId' | 'total' | 'cycle'>) {
      const key = run.rebalanceId ?? `dry-run-${++dryRuns}`;
      const entry: Entry = { key, ...run, done: 0, inFlight: 0, startedMs: nowMs() };
      entries.set(key, entry);
      tell('begin', entry);
      return {
        /** A portfolio's work began (holdings asked for). */
        started: () => {
          entry.inFlight += 1;
        },
        /** A portfolio's work ended, whatever its outcome. */
        finished: () => {
          entry.inFlight -= 1;
          entry.done += 1;
        },
        /** The rebalance ended (stored, failed or cancelled). */
        end: () => {
          entries.delete(key);
          tell('end', entry);
        },
      };
    },

    /** Every rebalance running in this process now. */
    running: (): ProgressSnapshot[] => [...entries.values()].map((e) => ({ ...e })),

    /** Told when a rebalance begins and ends (with its last figures); returns how to stop listening. */
    listen(listener: (event: 'begin' | 'end', progress: ProgressSnapshot) => void): () => void {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },

    /** Logs a line for each running rebalance every `intervalMs` (0: never) until `stop`. */
    startLogging(log: Logger, intervalMs: number): void {
      if (intervalMs <= 0 || timer !== null) return;
      timer = setInterval(() => {
        const now = nowMs();
        for (const e of entries.values()) {
          const { rate, etaSeconds } = rateOf(e, now);
          log.info(
            {
              rebalanceId: e.rebalanceId,
              modelId: e.modelId,
              done: e.done,
              total: e.total,
              inFlight: e.inFlight,
              portfoliosPerSecond: Math.round(rate * 10) / 10,
              etaSeconds,
            },
            `rebalance progress ${e.done}/${e.total} portfolios, ${rate.toFixed(1)}/s, ${etaSeconds === null ? 'time left unknown' : `about ${etaSeconds} s left`}`,
          );
        }
      }, intervalMs).unref();
    },

    stop(): void {
      if (timer !== null) clearInterval(timer);
      timer = null;
    },
  };
}

export type ProgressRegistry = ReturnType<typeof createProgressRegistry>;

/** `rebalance_portfolios_in_flight{rebalance_id}`: portfolios being worked on now, per running rebalance (read at scrape time). */
export function registerProgressGauge(registry: Registry, progress: ProgressRegistry): void {
  new Gauge({
    name: 'rebalance_portfolios_in_flight',
    help: 'Portfolios being rebalanced now, per running model rebalance (dry runs as dry-run-N)',
    labelNames: ['rebalance_id', 'model_id'],
    registers: [registry],
    collect() {
      this.reset();
      for (const p of progress.running()) this.set({ rebalance_id: p.key, model_id: p.modelId }, p.inFlight);
    },
  });
}
