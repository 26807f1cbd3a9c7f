// Every 503 tells the caller when to come back (api.md: UPSTREAM_UNAVAILABLE is
// always with retry-after): here the upstream failures that had none, retries
// run out with the circuit still closed, malformed JSON, and a payload whose
// decimals are out of bounds. (MongoDB, overload and shutdown: operations.test.ts.)
import { afterEach, describe, expect, it } from 'vitest';
import { expectStatus, json, pid, position, sid } from '../helpers/fixtures.js';
import { createWorld, type World } from '../helpers/rebalancing.js';

let w: World | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

async function world(): Promise<World> {
  const made = await createWorld({ UPSTREAM_RETRIES: '2', CIRCUIT_FAILURE_THRESHOLD: '50' });
  made.security(sid('r1'), 'RTA', '20');
  made.holdings(pid('r1'), { cash: '10000', securities: [] });
  await made.model('Retry after', [position(sid('r1'), '0.5')], [pid('r1')]);
  return made;
}

const rebalance = (target: World) => target.t.request({ method: 'POST', url: `/api/v1/portfolio/${pid('r1')}/rebalance` });

describe('503 answers', () => {
  it('carry retry-after when retries run out with the circuit still closed', async () => {
    w = await world();
    w.sim.inject('accounting', { status: 500 });
    const res = await rebalance(w);
    expectStatus(res, 503);
    expect(json(res)).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', message: expect.stringContaining('Portfolio Accounting') });
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const health = json(await w.t.request({ method: 'GET', url: '/health/health' }));
    expect(health.upstreams.accounting.circuit).toBe('closed');
  });

  it('carry retry-after when an upstream answers malformed JSON', async () => {
    w = await world();
    w.sim.inject('accounting', { malformed: true });
    const res = await rebalance(w);
    expectStatus(res, 503);
    expect(json(res).message).toMatch(/^The Portfolio Accounting service is unavailable: .*malformed JSON/);
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it('carry retry-after, and name the service and field, when an upstream sends a decimal out of bounds', async () => {
    w = await world();
    w.holdings(pid('r1'), { cash: '10000', securities: [{ securityId: sid('r1'), quantity: '1e-400000000' }] });
    const res = await rebalance(w);
    expectStatus(res, 503);
    expect(json(res).message).toContain('The Portfolio Accounting service is unavailable');
    expect(json(res).message).toContain('netQuantity must be 0 or between 1e-34 and 1e34 in magnitude');
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });
});
