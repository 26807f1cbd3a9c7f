// An upstreams instance pointed at a fresh simulator, with its log lines kept.
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import type { Clock } from '../../src/domain/clock.js';
import { createUpstreams, type Upstreams } from '../../src/upstreams/index.js';
import { type Simulator, type SimulatorOptions, startSimulator } from '../../tools/simulator/simulator.js';

export interface Harness {
  readonly sim: Simulator;
  readonly upstreams: Upstreams;
  readonly logs: Record<string, unknown>[];
  close(): Promise<void>;
}

/** `clock` times the quote caches (default: real time). */
export async function harness(env: Record<string, string> = {}, options: SimulatorOptions = {}, clock?: Clock): Promise<Harness> {
  // Realistic, but an Order service 50 times faster than the real one.
  const sim = await startSimulator({ securities: 120, portfolios: 20, holdings: 10, latencyScale: 0.02, ...options });
  const logs: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => logs.push(JSON.parse(line) as Record<string, unknown>) });
  const config = loadConfig({ ...sim.env(), UPSTREAM_BACKOFF_MS: '1', ...env });
  const upstreams = createUpstreams(config, logger, {}, clock && (() => clock.now().getTime()));
  return {
    sim,
    upstreams,
    logs,
    close: async () => {
      await upstreams.close();
      await sim.stop();
    },
  };
}

export const SECURITY_ROUTE = 'GET /api/v1/security/:securityId';
export const PRICE_ROUTE = 'GET /api/v1/price/:ticker';
export const SUMMARY_ROUTE = 'GET /api/v1/portfolios/:portfolioId/summary';
