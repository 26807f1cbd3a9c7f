// Every model rule of api.md on every write path that can break it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createModel, expectStatus, json, type PositionBody, pid, position, sid } from '../helpers/fixtures.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

let counter = 0;
const freshModel = async (positions: PositionBody[] = []) => ({ model_id: await createModel(t, positions) });

interface WritePath {
  readonly name: string;
  /** Sends one position through this path, to a model that already holds `existing`. */
  send(p: PositionBody, existing?: PositionBody[]): Promise<{ statusCode: number; body: string }>;
  /** Where the position's fields sit in the error's paths. */
  readonly at: string;
  readonly readable: string;
}

const paths: WritePath[] = [
  {
    name: 'create',
    at: 'positions.1.',
    readable: 'positions[1].',
    send: async (p, existing = []) => {
      counter += 1;
      return t.request({
        method: 'POST',
        url: '/api/v1/models',
        payload: { name: `Create ${counter}`, positions: [position(sid(900), 0), p, ...existing] },
      });
    },
  },
  {
    name: 'replace',
    at: 'positions.1.',
    readable: 'positions[1].',
    send: async (p, existing = []) => {
      const model = await freshModel();
      counter += 1;
      return t.request({
        method: 'PUT',
        url: `/api/v1/model/${model.model_id}`,
        payload: { name: `Replaced ${counter}`, positions: [position(sid(900), 0), p, ...existing], portfolios: [], version: 1 },
      });
    },
  },
  {
    name: 'add position',
    at: '',
    readable: '',
    send: async (p, existing = []) => {
      const model = await freshModel(existing);
      return t.request({ method: 'POST', url: `/api/v1/model/${model.model_id}/position`, payload: p });
    },
  },
  {
    name: 'update position',
    at: '',
    readable: '',
    send: async (p, existing = []) => {
      const securityIdOk = /^[A-Za-z0-9]{24}$/.test(p.security_id) ? p.security_id : sid(1);
      const model = await freshModel([...existing, { security_id: securityIdOk, target: '0.01', high_drift: '0', low_drift: '0' }]);
      return t.request({ method: 'PUT', url: `/api/v1/model/${model.model_id}/position`, payload: p });
    },
  },
];

describe.each(paths)('rules on $name', (path) => {
  it.each([
    ['-0.005', 'must be between 0 and 0.95'],
    ['0.955', 'must be between 0 and 0.95'],
    ['1', 'must be between 0 and 0.95'],
    ['0.0125', 'must be 0 or a multiple of 0.005'],
    [0.333, 'must be 0 or a multiple of 0.005'],
  ])('rejects target %s', async (target, predicate) => {
    const res = await path.send(position(sid(1), target));
    expectStatus(res, 400);
    expect(json(res)).toMatchObject({
      status_code: 400,
      code: 'VALIDATION_ERROR',
      message: `${path.readable}target ${predicate}`,
      details: [{ path: `${path.at}target`, message: `${path.readable}target ${predicate}` }],
    });
  });

  it.each(['0.95', '0.005', 0.5])('accepts target %s', async (target) => {
    expect((await path.send(position(sid(1), target, '0'))).statusCode).toBeLessThan(300);
  });

  it.each([
    ['high_drift', '1.0001'],
    ['high_drift', '-0.01'],
    ['low_drift', 2],
    ['low_drift', '-1'],
  ])('rejects %s %s', async (field, value) => {
    const res = await path.send({ ...position(sid(1), '0.1'), [field]: value });
    expectStatus(res, 400);
    expect(json(res).details).toEqual([{ path: `${path.at}${field}`, message: `${path.readable}${field} must be between 0 and 1` }]);
  });

  it('accepts drifts of exactly 0 and 1', async () => {
    expect((await path.send({ ...position(sid(1), '0.1'), high_drift: 1, low_drift: '0' })).statusCode).toBeLessThan(300);
  });

  it('rejects low_drift above high_drift, naming the position, and accepts them equal as decimals', async () => {
    for (const [low, high, values] of [
      ['0.03', '0.02', '0.03 > 0.02'],
      [0.0201, '0.020', '0.0201 > 0.02'],
      ['1', '0', '1 > 0'],
    ] as const) {
      const res = await path.send({ ...position(sid(1), '0.1'), low_drift: low, high_drift: high });
      expectStatus(res, 400, values);
      const message = `${path.readable}low_drift must not be above high_drift for security ${sid(1)} (${values})`;
      expect(json(res), values).toMatchObject({ code: 'VALIDATION_ERROR', message, details: [{ path: `${path.at}low_drift`, message }] });
    }
    for (const [low, high] of [
      ['0.02', '0.02'],
      ['0.020', 0.02],
      ['0', '0.5'],
    ] as const) {
      expect((await path.send({ ...position(sid(1), '0.1'), low_drift: low, high_drift: high })).statusCode, `${low} ${high}`).toBeLessThan(
        300,
      );
    }
  });

  it.each([
    ['abc', 'must be a decimal number such as "0.25"'],
    ['0x10', 'must be a decimal number such as "0.25"'],
    ['NaN', 'must be a decimal number such as "0.25"'],
    [true, 'must be a decimal number (a JSON number or string)'],
    [null, 'must be a decimal number (a JSON number or string)'],
    [{ $gt: 0 }, 'must be a decimal number (a JSON number or string)'],
  ])('rejects the non-decimal target %j', async (target, predicate) => {
    const res = await path.send({ ...position(sid(1), '0.1'), target: target as string });
    expectStatus(res, 400);
    expect(json(res).message).toBe(`${path.readable}target ${predicate}`);
  });

  it('rejects a malformed security id', async () => {
    const res = await path.send({ ...position(sid(1), '0.1'), security_id: 'not-an-id' });
    expectStatus(res, 400);
    expect(json(res).message).toBe(`${path.readable}security_id must be 24 letters or digits`);
  });

  it('rejects a target sum above 0.95', async () => {
    const res = await path.send(position(sid(1), '0.5'), [position(sid(2), '0.46')]);
    expectStatus(res, 400);
    expect(json(res).code).toBe('VALIDATION_ERROR');
    expect(json(res).message).toMatch(/^the targets would sum to 0\.96, above the maximum of 0\.95/);
  });

  it('accepts a target sum of exactly 0.95', async () => {
    const res = await path.send(position(sid(1), '0.5'), [position(sid(2), '0.45')]);
    expect(res.statusCode).toBeLessThan(300);
  });

  it('rejects an unknown field in the position', async () => {
    const res = await path.send({ ...position(sid(1), '0.1'), weight: 1 } as PositionBody);
    expectStatus(res, 400);
    expect(json(res).details).toEqual([{ path: `${path.at}weight`, message: `${path.readable}weight is not a known field` }]);
  });
});

describe('position count', () => {
  const many = (n: number, from = 1) => Array.from({ length: n }, (_, i) => position(sid(from + i), '0.005'));

  it('accepts 100 positions with a target above zero, plus zero-target ones', async () => {
    counter += 1;
    const res = await t.request({
      method: 'POST',
      url: '/api/v1/models',
      payload: { name: `Hundred ${counter}`, positions: [...many(100), position(sid(500), 0), position(sid(501), '0')] },
    });
    expectStatus(res, 201);
    expect(json(res).positions).toHaveLength(100);
  });

  it('rejects 101 positions on create and on replace', async () => {
    const create = await t.request({ method: 'POST', url: '/api/v1/models', payload: { name: 'Too many', positions: many(101) } });
    expectStatus(create, 400);
    expect(json(create).message).toBe('the model would have 101 positions with a target above zero; at most 100 are allowed');
    const model = await freshModel();
    const replace = await t.request({
      method: 'PUT',
      url: `/api/v1/model/${model.model_id}`,
      payload: { name: 'Too many', positions: many(101), portfolios: [], version: 1 },
    });
    expectStatus(replace, 400);
  });

  it('rejects adding a 101st position', async () => {
    const model = await freshModel(many(100));
    const res = await t.request({ method: 'POST', url: `/api/v1/model/${model.model_id}/position`, payload: position(sid(700), '0.005') });
    expectStatus(res, 400);
    expect(json(res).message).toContain('at most 100 are allowed');
  });
});

describe('duplicates and zero targets', () => {
  it('rejects a security listed twice in a create or replace request', async () => {
    const body = { name: 'Twice', positions: [position(sid(1), '0.1'), position(sid(2), '0.1'), position(sid(1), '0.2')] };
    const res = await t.request({ method: 'POST', url: '/api/v1/models', payload: body });
    expectStatus(res, 400);
    expect(json(res).details).toEqual([
      {
        path: 'positions.2.security_id',
        message: `positions[2].security_id repeats security ${sid(1)}, already at positions[0]`,
      },
    ]);
    const model = await freshModel();
    const replace = await t.request({
      method: 'PUT',
      url: `/api/v1/model/${model.model_id}`,
      payload: { ...body, portfolios: [], version: 1 },
    });
    expectStatus(replace, 400);
  });

  it('rejects a zero target on add (nothing to add)', async () => {
    const model = await freshModel();
    const res = await t.request({ method: 'POST', url: `/api/v1/model/${model.model_id}/position`, payload: position(sid(1), 0) });
    expectStatus(res, 400);
    expect(json(res).message).toBe('target must be above 0 to add a position (a zero target means no position)');
  });

  it('drops zero targets on replace', async () => {
    const model = await freshModel([position(sid(1), '0.1')]);
    const res = await t.request({
      method: 'PUT',
      url: `/api/v1/model/${model.model_id}`,
      payload: { name: 'Dropped', positions: [position(sid(1), '0'), position(sid(2), '0.2')], portfolios: [], version: 1 },
    });
    expect(json(res).positions.map((p: PositionBody) => p.security_id)).toEqual([sid(2)]);
  });
});

describe('portfolio ids', () => {
  it.each([
    ['create', 'POST', '/api/v1/models'],
    ['add portfolios', 'POST', 'portfolio'],
    ['replace', 'PUT', ''],
  ])('rejects a malformed portfolio id on %s', async (_name, method, suffix) => {
    const model = await freshModel();
    const url = suffix.startsWith('/') ? suffix : `/api/v1/model/${model.model_id}${suffix === '' ? '' : `/${suffix}`}`;
    const payload =
      suffix === 'portfolio'
        ? { portfolios: [pid(1), 'bad-id'] }
        : { name: `P ${counter++}`, positions: [], portfolios: [pid(1), 'bad-id'], ...(method === 'PUT' ? { version: 1 } : {}) };
    const res = await t.request({ method: method as 'POST' | 'PUT', url, payload });
    expectStatus(res, 400);
    expect(json(res).details).toEqual([{ path: 'portfolios.1', message: 'portfolios[1] must be 24 letters or digits' }]);
  });
});
