// Decimals from the GlobeCo services are bounded like a request's: a quantity
// or cash figure that cannot be held exactly is a failure of that call, naming
// the service, before anything computes with it.
import { afterEach, describe, expect, it } from 'vitest';
import { UpstreamUnavailableError } from '../../src/upstreams/index.js';
import { type Harness, harness } from './helpers.js';

let h: Harness;
afterEach(async () => {
  await h.close();
});

describe('upstream decimals', () => {
  it.each([
    [
      'a quantity of 1e-400000000',
      { cash: '100', quantity: '1e-400000000' },
      'securities[0].netQuantity must be 0 or between 1e-34 and 1e34 in magnitude',
    ],
    ['cash of 1e+7000', { cash: '1e+7000', quantity: '10' }, 'cashBalance must be 0 or between 1e-34 and 1e34 in magnitude'],
    [
      'a quantity of 40 digits',
      { cash: '100', quantity: '1'.repeat(40) },
      'securities[0].netQuantity must have at most 34 significant digits',
    ],
  ])('fails the holdings call on %s, naming the service and the field', async (_label, figures, problem) => {
    h = await harness();
    const id = h.sim.book.portfolioId(0);
    h.sim.book.setHoldings(id, { cash: figures.cash, securities: [{ securityId: h.sim.book.securityId(1), quantity: figures.quantity }] });
    const call = h.upstreams.accounting.holdings(id);
    await expect(call).rejects.toBeInstanceOf(UpstreamUnavailableError);
    await expect(call).rejects.toThrow(
      `The Portfolio Accounting service is unavailable: GET /api/v1/portfolios/${id}/summary: answered an unexpected payload (${problem}`,
    );
  });
});
