// Every decimal that enters is bounded before anything computes with it or
// writes it out (api.md, Models: at most 34 significant digits, 1e-34..1e34).
// The first case is the 165-byte request that used to take the process down.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createModel, expectStatus, json, type PositionBody, pid, position, sid } from '../helpers/fixtures.js';
import { createWorld } from '../helpers/rebalancing.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

const RANGE = 'must be 0 or between 1e-34 and 1e34 in magnitude';

let counter = 0;
/** A model name not used before in this file. */
const nextName = () => {
  counter += 1;
  return `Bounds ${counter}`;
};
const writePaths: [string, (p: PositionBody) => Promise<{ statusCode: number; body: string; headers: Record<string, unknown> }>, string][] =
  [
    [
      'POST /models',
      (p) => t.request({ method: 'POST', url: '/api/v1/models', payload: { name: nextName(), positions: [p] } }),
      'positions[0].',
    ],
    [
      'PUT /model/{id}',
      async (p) => {
        const id = await createModel(t);
        return t.request({
          method: 'PUT',
          url: `/api/v1/model/${id}`,
          payload: { name: nextName(), positions: [p], portfolios: [], version: 1 },
        });
      },
      'positions[0].',
    ],
    [
      'POST /model/{id}/position',
      async (p) => t.request({ method: 'POST', url: `/api/v1/model/${await createModel(t)}/position`, payload: p }),
      '',
    ],
    [
      'PUT /model/{id}/position',
      async (p) =>
        t.request({ method: 'PUT', url: `/api/v1/model/${await createModel(t, [position(sid(1), '0.1')])}/position`, payload: p }),
      '',
    ],
    [
      'DELETE /model/{id}/position',
      async (p) => t.request({ method: 'DELETE', url: `/api/v1/model/${await createModel(t)}/position`, payload: p }),
      '',
    ],
  ];

describe.each(writePaths)('%s', (_name, send, at) => {
  it.each([
    ['1e-400000000', '1e-400000000', RANGE],
    ['1e-100000000', '1e-100000000', RANGE],
    ['1e-7000', '1e-7000', RANGE],
    ['1e-35', '1e-35', RANGE],
    ['-1e+7000', '-1e+7000', RANGE],
    ['an exponent of 28 digits', '1e400000000000000000000000000', RANGE],
    ['0.(200 000 zeros)1', `0.${'0'.repeat(200_000)}1`, RANGE],
  ])('answers 400 for the drift %s before computing with it', async (_label, drift, predicate) => {
    const res = await send({ ...position(sid(1), '0.1'), high_drift: drift });
    expectStatus(res, 400);
    expect(json(res)).toMatchObject({ code: 'VALIDATION_ERROR', message: `${at}high_drift ${predicate}` });
    expect(res.headers['x-correlation-id']).toEqual(expect.any(String));
  });
});

describe('bounds', () => {
  it('sends the 165-byte request that killed the process and gets a 400 naming the field', async () => {
    const payload =
      '{"name":"x","positions":[{"security_id":"d343bae4e22076d600000001","target":"0.1","high_drift":"1e-400000000","low_drift":"0.02"}]}';
    const res = await t.request({ method: 'POST', url: '/api/v1/models', headers: { 'content-type': 'application/json' }, payload });
    expectStatus(res, 400);
    expect(json(res).message).toBe(`positions[0].high_drift ${RANGE}`);
  });

  it('answers 400 for JSON numbers out of range (1e400 is Infinity to JSON, 5e-324), and accepts the edges exactly', async () => {
    for (const number of ['1e400', '-1e400', '5e-324', '1e-35']) {
      const payload = `{"security_id":"${sid(7)}","target":"0.1","high_drift":${number},"low_drift":"0.02"}`;
      const res = await t.request({
        method: 'POST',
        url: `/api/v1/model/${await createModel(t)}/position`,
        headers: { 'content-type': 'application/json' },
        payload,
      });
      expectStatus(res, 400, number);
      expect(json(res).details[0].path, number).toBe('high_drift');
    }

    const res = await t.request({
      method: 'POST',
      url: '/api/v1/models',
      payload: {
        name: 'Edges',
        positions: [
          { ...position(sid(1), '0.1'), high_drift: `0.${'1'.repeat(34)}`, low_drift: '1e-34' },
          {
            ...position(sid(2), '5000e-0000000000000000000000000000004'),
            high_drift: '0.1000000000000000000000000000000000000',
            low_drift: '0E-400000000',
          },
        ],
      },
    });
    expectStatus(res, 201);
    expect(json(res).positions).toEqual([
      { security_id: sid(1), target: '0.1', high_drift: `0.${'1'.repeat(34)}`, low_drift: `0.${'0'.repeat(33)}1` },
      { security_id: sid(2), target: '0.5', high_drift: '0.1', low_drift: '0' },
    ]);
    const read = await t.request({ method: 'GET', url: `/api/v1/model/${json(res).model_id}` });
    expect(json(read).positions).toEqual(json(res).positions);
  });

  it('answers a limit past what MongoDB takes (it used to fail with 500, found by the fuzzer), and 400 past the largest exact integer', async () => {
    await createModel(t);
    for (const url of [
      '/api/v1/models?limit=8000000000',
      '/api/v1/models?limit=2147483648',
      '/api/v1/models?offset=0&limit=9007199254740991',
    ]) {
      const res = await t.request({ method: 'GET', url });
      expectStatus(res, 200, url);
      expect(String(json(res).length), url).toBe(res.headers['x-total-count']);
    }
    for (const url of ['/api/v1/models?limit=9007199254740992', `/api/v1/rebalances?offset=${'9'.repeat(400)}`]) {
      const res = await t.request({ method: 'GET', url });
      expectStatus(res, 400, url);
      expect(json(res).details[0].message, url).toMatch(/must be a non-negative integer no larger than 9007199254740991$/);
    }
  });

  it('stores a rebalance whose figures, from inputs at the bounds, need more digits than Decimal128 holds (rounded to 34), where it used to fail with 500', async () => {
    const w = await createWorld();
    try {
      w.security(sid('big'), 'BIG', '1e33');
      w.security(sid('tiny'), 'TNY', '0.01');
      // Market value 1e34 + 0.01: 37 significant digits (a whole share: a fraction outside the model could not be sold).
      w.holdings(pid('edge'), { cash: '1e34', securities: [{ securityId: sid('tiny'), quantity: '1' }] });
      await w.model(
        'Edge of the bounds',
        [{ security_id: sid('big'), target: '0.5', high_drift: '0.02', low_drift: '0.02' }],
        [pid('edge')],
      );
      const res = await w.t.request({ method: 'POST', url: `/api/v1/portfolio/${pid('edge')}/rebalance` });
      expectStatus(res, 200);
      const stored = json(await w.t.request({ method: 'GET', url: `/api/v1/rebalance/${json(res).rebalance_id}` }));
      expect(stored.portfolios[0]).toMatchObject({ market_value: 1e34, cash_before_rebalance: 1e34, cash_after_rebalance: 5e33 });
    } finally {
      await w.close();
    }
  });
});
