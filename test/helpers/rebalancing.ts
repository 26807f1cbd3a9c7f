// The real app on a fresh database, wired to a fresh simulator of the
// GlobeCo services, plus helpers to lay out portfolios and models (ids and
// bodies: fixtures.ts).

import type { AppOverrides } from '../../src/app.js';
import type { SimHoldings } from '../../tools/simulator/book.js';
import { type Simulator, type SimulatorOptions, startSimulator } from '../../tools/simulator/simulator.js';
import { createTestApp, type TestApp } from './app.js';
import { expectStatus, json, pid, position, sid } from './fixtures.js';

export interface World {
  readonly t: TestApp;
  readonly sim: Simulator;
  /** A security with this id, ticker and price. */
  security(id: string, ticker: string, price: string | null): void;
  holdings(portfolioId: string, holdings: SimHoldings | null): void;
  model(name: string, positions: object[], portfolios: string[]): Promise<string>;
  close(): Promise<void>;
}

/**
 * The simulator is realistic (upstreams.md) but for two switches these tests
 * need: prices exactly as set (the figures are asserted to the cent), and an
 * Order service 50 times faster than the real one (same chunks and pauses).
 */
export async function createWorld(
  env: Record<string, string> = {},
  overrides: AppOverrides = {},
  simulator: SimulatorOptions = {},
): Promise<World> {
  const sim = await startSimulator({ securities: 60, portfolios: 0, holdings: 0, steadyPrices: true, latencyScale: 0.02, ...simulator });
  const t = await createTestApp({ ...sim.env(), UPSTREAM_BACKOFF_MS: '1', ...env }, overrides);
  return {
    t,
    sim,
    security(id, ticker, price) {
      sim.book.setSecurity(id, ticker);
      sim.book.setPrice(ticker, price);
    },
    holdings(portfolioId, holdings) {
      sim.book.setHoldings(portfolioId, holdings);
    },
    async model(name, positions, portfolios) {
      const res = await t.request({ method: 'POST', url: '/api/v1/models', payload: { name, positions, portfolios } });
      expectStatus(res, 201, 'model creation');
      return json<{ model_id: string }>(res).model_id;
    },
    async close() {
      await t.close();
      await sim.stop();
    },
  };
}

/**
 * A stored rebalance of `portfolios` portfolios that each buy `perPortfolio`
 * securities (one share held of each, a lot of cash): its id and its number of trades.
 */
export async function storedBuyingRebalance(
  w: World,
  portfolios: number,
  perPortfolio: number,
  name = 'Orders',
): Promise<{ id: string; trades: number }> {
  for (let i = 0; i < perPortfolio; i++) w.security(sid(`o${i}`), `O${String(i).padStart(3, '0')}`, String(10 + i));
  const ids = Array.from({ length: portfolios }, (_, j) => pid(`${name}${j}`));
  for (const p of ids)
    w.holdings(p, {
      cash: '1000000',
      securities: Array.from({ length: perPortfolio }, (_, i) => ({ securityId: sid(`o${i}`), quantity: '1' })),
    });
  const target = (0.9 / perPortfolio).toFixed(3);
  const step = (Math.floor(Number(target) / 0.005) * 0.005).toFixed(3);
  const model = await w.model(
    name,
    Array.from({ length: perPortfolio }, (_, i) => position(sid(`o${i}`), step, '0.5')),
    ids,
  );
  const res = await w.t.request({ method: 'POST', url: `/api/v1/model/${model}/rebalance` });
  expectStatus(res, 200, 'model rebalance');
  const body = json<{ rebalance_id: string; transactions: unknown[] }[]>(res);
  return { id: body[0]!.rebalance_id, trades: body.reduce((n, r) => n + r.transactions.length, 0) };
}
