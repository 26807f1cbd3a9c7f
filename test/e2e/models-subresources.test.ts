// Positions and portfolios of a model, changed one at a time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPortfolioClaims } from '../../src/modules/models/portfolio-claims.js';
import { createModelRepository } from '../../src/modules/models/repository.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createModel, expectStatus, json, type PositionBody, pid, position, sid } from '../helpers/fixtures.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

const model = async (positions: PositionBody[] = [], portfolios: string[] = []) => ({
  model_id: await createModel(t, positions, portfolios),
});
const get = async (id: string) => json(await t.request({ method: 'GET', url: `/api/v1/model/${id}` }));

describe('POST /model/:id/position', () => {
  it('appends the position and bumps the version', async () => {
    const m = await model([position(sid(1), '0.2')]);
    const res = await t.request({ method: 'POST', url: `/api/v1/model/${m.model_id}/position`, payload: position(sid(2), 0.3, '0.05') });
    expectStatus(res, 200);
    expect(json(res)).toMatchObject({
      version: 2,
      positions: [
        { security_id: sid(1), target: '0.2' },
        { security_id: sid(2), target: '0.3', high_drift: '0.05', low_drift: '0.05' },
      ],
    });
  });

  it('answers 409 CONFLICT if the security is already in the model', async () => {
    const m = await model([position(sid(1), '0.2')]);
    const res = await t.request({ method: 'POST', url: `/api/v1/model/${m.model_id}/position`, payload: position(sid(1), '0.1') });
    expectStatus(res, 409);
    expect(json(res)).toMatchObject({
      code: 'CONFLICT',
      message: `Security ${sid(1)} is already in model ${m.model_id}; update it instead`,
    });
    expect((await get(m.model_id)).version).toBe(1);
  });

  it('answers 404 for a missing model', async () => {
    const res = await t.request({
      method: 'POST',
      url: '/api/v1/model/0123456789abcdef01234567/position',
      payload: position(sid(1), '0.1'),
    });
    expectStatus(res, 404);
  });
});

describe('PUT /model/:id/position', () => {
  it('changes the stored values', async () => {
    const m = await model([position(sid(1), '0.2'), position(sid(2), '0.3')]);
    const res = await t.request({
      method: 'PUT',
      url: `/api/v1/model/${m.model_id}/position`,
      payload: { security_id: sid(2), target: '0.35', high_drift: 0.04, low_drift: '0.01' },
    });
    expectStatus(res, 200);
    expect(json(res).positions[1]).toEqual({ security_id: sid(2), target: '0.35', high_drift: '0.04', low_drift: '0.01' });
    expect(json(res).version).toBe(2);
  });

  it('removes the position when the target is 0', async () => {
    const m = await model([position(sid(1), '0.2'), position(sid(2), '0.3')]);
    const res = await t.request({ method: 'PUT', url: `/api/v1/model/${m.model_id}/position`, payload: position(sid(1), 0) });
    expect(json(res).positions.map((p: PositionBody) => p.security_id)).toEqual([sid(2)]);
  });

  it('answers 404 if the security is not in the model', async () => {
    const m = await model([position(sid(1), '0.2')]);
    const res = await t.request({ method: 'PUT', url: `/api/v1/model/${m.model_id}/position`, payload: position(sid(3), '0.1') });
    expectStatus(res, 404);
    expect(json(res).message).toBe(`Security ${sid(3)} is not in model ${m.model_id}`);
  });
});

describe('DELETE /model/:id/position', () => {
  it('removes the position when the values match as decimals', async () => {
    const m = await model([position(sid(1), '0.2', '0.02'), position(sid(2), '0.3')]);
    const res = await t.request({
      method: 'DELETE',
      url: `/api/v1/model/${m.model_id}/position`,
      payload: { security_id: sid(1), target: 0.2, high_drift: '0.020', low_drift: '2e-2' },
    });
    expectStatus(res, 200);
    expect(json(res).positions.map((p: PositionBody) => p.security_id)).toEqual([sid(2)]);
    expect(json(res).version).toBe(2);
  });

  it('answers 409 and keeps the position when a value differs', async () => {
    const m = await model([position(sid(1), '0.2', '0.02')]);
    const res = await t.request({
      method: 'DELETE',
      url: `/api/v1/model/${m.model_id}/position`,
      payload: { security_id: sid(1), target: '0.2', high_drift: '0.02', low_drift: '0.03' },
    });
    expectStatus(res, 409);
    expect(json(res)).toMatchObject({ code: 'CONFLICT' });
    expect(json(res).message).toContain('(target 0.2, high_drift 0.02, low_drift 0.02); it was not removed');
    expect((await get(m.model_id)).positions).toHaveLength(1);
  });

  it('answers 404 when the security is absent', async () => {
    const m = await model([position(sid(1), '0.2')]);
    const res = await t.request({ method: 'DELETE', url: `/api/v1/model/${m.model_id}/position`, payload: position(sid(9), '0.2') });
    expectStatus(res, 404);
  });
});

describe('model portfolios', () => {
  it('appends new portfolio ids, ignores ones already present, and bumps the version once', async () => {
    const m = await model([], [pid(1)]);
    const res = await t.request({
      method: 'POST',
      url: `/api/v1/model/${m.model_id}/portfolio`,
      payload: { portfolios: [pid(1), pid(2), pid(3), pid(2)] },
    });
    expectStatus(res, 200);
    expect(json(res)).toMatchObject({ portfolios: [pid(1), pid(2), pid(3)], version: 2 });
  });

  it('leaves the version alone when nothing is added or removed', async () => {
    const m = await model([], [pid(10)]);
    const added = await t.request({ method: 'POST', url: `/api/v1/model/${m.model_id}/portfolio`, payload: { portfolios: [pid(10)] } });
    expect(json(added).version).toBe(1);
    const removed = await t.request({ method: 'DELETE', url: `/api/v1/model/${m.model_id}/portfolio`, payload: { portfolios: [pid(11)] } });
    expect(json(removed).version).toBe(1);
  });

  it('removes the listed ids and ignores ones not present', async () => {
    const m = await model([], [pid(20), pid(21), pid(22)]);
    const res = await t.request({
      method: 'DELETE',
      url: `/api/v1/model/${m.model_id}/portfolio`,
      payload: { portfolios: [pid(21), pid(29)] },
    });
    expect(json(res)).toMatchObject({ portfolios: [pid(20), pid(22)], version: 2 });
  });

  it('refuses a portfolio that another model follows, naming that model, on every path', async () => {
    const holder = await model([], [pid(30)]);
    const holderName = (await get(holder.model_id)).name;
    const expected = `portfolio ${pid(30)} already belongs to model "${holderName}" (${holder.model_id})`;

    const created = await t.request({ method: 'POST', url: '/api/v1/models', payload: { name: 'Second', portfolios: [pid(31), pid(30)] } });
    expectStatus(created, 409);
    expect(json(created)).toMatchObject({ code: 'CONFLICT', message: expected });

    const other = await model();
    const added = await t.request({ method: 'POST', url: `/api/v1/model/${other.model_id}/portfolio`, payload: { portfolios: [pid(30)] } });
    expectStatus(added, 409);
    expect(json(added).message).toBe(expected);

    const replaced = await t.request({
      method: 'PUT',
      url: `/api/v1/model/${other.model_id}`,
      payload: { name: 'Other', positions: [], portfolios: [pid(30)], version: 1 },
    });
    expectStatus(replaced, 409);
    expect(json(replaced).message).toBe(expected);

    // Nothing was half-claimed: the innocent portfolio of the failed create is still free.
    const free = await t.request({ method: 'POST', url: `/api/v1/model/${other.model_id}/portfolio`, payload: { portfolios: [pid(31)] } });
    expectStatus(free, 200);
  });

  it('frees a portfolio removed from one model for another', async () => {
    const first = await model([], [pid(40)]);
    await t.request({ method: 'DELETE', url: `/api/v1/model/${first.model_id}/portfolio`, payload: { portfolios: [pid(40)] } });
    const second = await model();
    const res = await t.request({ method: 'POST', url: `/api/v1/model/${second.model_id}/portfolio`, payload: { portfolios: [pid(40)] } });
    expectStatus(res, 200);
  });

  it('moves a portfolio between models through replace', async () => {
    const first = await model([], [pid(41)]);
    const second = await model();
    const body = { positions: [], version: 1 };
    await t.request({ method: 'PUT', url: `/api/v1/model/${first.model_id}`, payload: { ...body, name: 'First', portfolios: [] } });
    const res = await t.request({
      method: 'PUT',
      url: `/api/v1/model/${second.model_id}`,
      payload: { ...body, name: 'Second', portfolios: [pid(41)] },
    });
    expectStatus(res, 200);
  });

  it('rejects a body that is not {portfolios: [...]}', async () => {
    const m = await model();
    const res = await t.request({ method: 'POST', url: `/api/v1/model/${m.model_id}/portfolio`, payload: [pid(1)] });
    expectStatus(res, 400);
    expect(json(res).message).toBe('the request body must be an object');
  });
});

describe('claims left by a write that never finished', () => {
  // The writer that died claimed through the same code the service uses.
  const claims = () => createPortfolioClaims(t.app.mongo.db, createModelRepository(t.app.mongo.db));

  it('lets another model take a portfolio whose claim its model never listed', async () => {
    const crashed = await model();
    // A writer claimed the portfolio for version 2 of `crashed`, then died before writing the model;
    // the model has since moved to version 2 without it.
    await claims().claim(crashed.model_id, [pid(90)], 2, new Date());
    await t.request({ method: 'POST', url: `/api/v1/model/${crashed.model_id}/portfolio`, payload: { portfolios: [pid(91)] } });
    const other = await model();
    const res = await t.request({ method: 'POST', url: `/api/v1/model/${other.model_id}/portfolio`, payload: { portfolios: [pid(90)] } });
    expectStatus(res, 200);
    expect(json(res).portfolios).toEqual([pid(90)]);
  });

  it('keeps a claim whose write may still land (model not yet at that version)', async () => {
    const inFlight = await model();
    await claims().claim(inFlight.model_id, [pid(92)], 2, new Date());
    const other = await model();
    const res = await t.request({ method: 'POST', url: `/api/v1/model/${other.model_id}/portfolio`, payload: { portfolios: [pid(92)] } });
    expectStatus(res, 409);
    expect(json(res).message).toContain(inFlight.model_id);
  });
});
