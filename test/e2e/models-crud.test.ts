import { Decimal128 } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { expectStatus, json, pid, position, sid } from '../helpers/fixtures.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

const create = (body: unknown) => t.request({ method: 'POST', url: '/api/v1/models', payload: body as object });

describe('POST /api/v1/models', () => {
  it('creates a model at version 1 and answers 201 with the ModelDTO', async () => {
    const res = await create({
      name: 'Global Balanced',
      positions: [position(sid(1), '0.25'), position(sid(2), 0.3, 0.03)],
      portfolios: [pid(1)],
    });
    expectStatus(res, 201);
    const body = json(res);
    expect(body).toEqual({
      model_id: expect.stringMatching(/^[0-9a-f]{24}$/),
      name: 'Global Balanced',
      positions: [
        { security_id: sid(1), target: '0.25', high_drift: '0.02', low_drift: '0.02' },
        { security_id: sid(2), target: '0.3', high_drift: '0.03', low_drift: '0.03' },
      ],
      portfolios: [pid(1)],
      last_rebalance_date: null,
      rebalance_to: 'target',
      version: 1,
    });
  });

  it('creates a model with only a name', async () => {
    const res = await create({ name: 'Empty' });
    expectStatus(res, 201);
    expect(json(res)).toMatchObject({ name: 'Empty', positions: [], portfolios: [], version: 1 });
  });

  it('trims the name and rejects one that is empty after trimming', async () => {
    expect(json(await create({ name: '  Trimmed  ' })).name).toBe('Trimmed');
    const res = await create({ name: '   ' });
    expectStatus(res, 400);
    expect(json(res).message).toBe('name must have 1 to 255 characters after trimming');
  });

  it('accepts a 255-character name and rejects 256', async () => {
    expectStatus(await create({ name: 'n'.repeat(255) }), 201);
    expectStatus(await create({ name: 'm'.repeat(256) }), 400);
  });

  it('answers 409 CONFLICT when the name is taken (case-sensitively)', async () => {
    await create({ name: 'Taken' });
    const res = await create({ name: 'Taken' });
    expectStatus(res, 409);
    expect(json(res)).toMatchObject({ code: 'CONFLICT', message: 'A model named "Taken" already exists' });
    expectStatus(await create({ name: 'taken' }), 201);
  });

  it('collapses duplicate portfolio ids in the request', async () => {
    const res = await create({ name: 'Dupes', portfolios: [pid(50), pid(51), pid(50)] });
    expect(json(res).portfolios).toEqual([pid(50), pid(51)]);
  });

  it('drops positions whose target is 0', async () => {
    const res = await create({ name: 'Zeros', positions: [position(sid(1), '0.1'), position(sid(2), 0), position(sid(3), '0.000')] });
    expect(json(res).positions.map((p: { security_id: string }) => p.security_id)).toEqual([sid(1)]);
  });

  it('returns decimals as the exact decimal strings sent, whether JSON numbers or strings', async () => {
    const res = await create({
      name: 'Decimals',
      positions: [
        { security_id: sid(1), target: 0.1, high_drift: 0.1, low_drift: '0.020' },
        { security_id: sid(2), target: '0.005', high_drift: 1, low_drift: '1e-3' },
      ],
    });
    expect(json(res).positions).toEqual([
      { security_id: sid(1), target: '0.1', high_drift: '0.1', low_drift: '0.02' },
      { security_id: sid(2), target: '0.005', high_drift: '1', low_drift: '0.001' },
    ]);
    const read = await t.request({ method: 'GET', url: `/api/v1/model/${json(res).model_id}` });
    expect(json(read).positions).toEqual(json(res).positions);
  });

  it('stores decimals as Decimal128, not binary floats', async () => {
    const res = await create({ name: 'Stored', positions: [position(sid(1), 0.1, 0.07)] });
    const doc = await t.app.mongo.db.collection('models').findOne({ name: 'Stored' });
    expect(doc?.positions[0].target._bsontype).toBe('Decimal128');
    expect(doc?.positions[0].target.toString()).toBe('0.1');
    expect(doc?.positions[0].high_drift.toString()).toBe('0.07');
    expectStatus(res, 201);
  });
});

describe('reads of stored models', () => {
  it('show a change to the stored positions, however it was made (decoded positions are kept only while their bytes are unchanged)', async () => {
    const res = await create({ name: 'Changed in place', positions: [position(sid(1), 0.1, 0.07)] });
    expectStatus(res, 201);
    const id = json(res).model_id;
    const list = async () =>
      json(await t.request({ method: 'GET', url: '/api/v1/models' })).find((m: { model_id: string }) => m.model_id === id);
    expect((await list()).positions[0].target).toBe('0.1');
    // Changed behind the service's back: same version, same dates, new figures.
    const models = t.app.mongo.db.collection('models');
    const doc = await models.findOne({ name: 'Changed in place' });
    const positions = doc?.positions.map((p: Record<string, unknown>) => ({ ...p, target: Decimal128.fromString('0.125') }));
    await models.updateOne({ name: 'Changed in place' }, { $set: { positions } });
    expect((await list()).positions[0].target).toBe('0.125');
    const one = await t.request({ method: 'GET', url: `/api/v1/model/${id}` });
    expect(json(one).positions[0].target).toBe('0.125');
    expect(json(one)).toEqual(await list());
  });
});

describe('GET /api/v1/model/:model_id', () => {
  it('returns the model', async () => {
    const created = json(await create({ name: 'Readable', positions: [position(sid(1), '0.5')] }));
    const res = await t.request({ method: 'GET', url: `/api/v1/model/${created.model_id}` });
    expectStatus(res, 200);
    expect(json(res)).toEqual(created);
  });

  it('answers 404 NOT_FOUND for a well-formed id that does not exist', async () => {
    const res = await t.request({ method: 'GET', url: '/api/v1/model/0123456789abcdef01234567' });
    expectStatus(res, 404);
    expect(json(res)).toMatchObject({
      status_code: 404,
      code: 'NOT_FOUND',
      message: 'Model 0123456789abcdef01234567 not found',
    });
  });

  it.each(['123', '0123456789ABCDEF01234567', 'zzzzzzzzzzzzzzzzzzzzzzzz', '0123456789abcdef012345678'])(
    'answers 400 for the malformed id %s',
    async (id) => {
      const res = await t.request({ method: 'GET', url: `/api/v1/model/${id}` });
      expectStatus(res, 400);
      expect(json(res)).toMatchObject({
        code: 'VALIDATION_ERROR',
        message: 'model_id must be 24 lowercase hexadecimal characters',
        details: [{ path: 'model_id', message: 'model_id must be 24 lowercase hexadecimal characters' }],
      });
    },
  );
});

describe('PUT /api/v1/model/:model_id', () => {
  it('replaces name, positions and portfolios and bumps the version', async () => {
    const created = json(await create({ name: 'Before', positions: [position(sid(1), '0.5')], portfolios: [pid(2)] }));
    const res = await t.request({
      method: 'PUT',
      url: `/api/v1/model/${created.model_id}`,
      payload: { name: 'After', positions: [position(sid(3), '0.2')], portfolios: [pid(3)], version: 1 },
    });
    expectStatus(res, 200);
    expect(json(res)).toEqual({
      model_id: created.model_id,
      name: 'After',
      positions: [{ security_id: sid(3), target: '0.2', high_drift: '0.02', low_drift: '0.02' }],
      portfolios: [pid(3)],
      last_rebalance_date: null,
      rebalance_to: 'target',
      version: 2,
    });
  });

  it('answers 409 VERSION_CONFLICT for a stale version and changes nothing', async () => {
    const created = json(await create({ name: 'Stale' }));
    const body = { name: 'Stale 2', positions: [], portfolios: [] };
    expectStatus(await t.request({ method: 'PUT', url: `/api/v1/model/${created.model_id}`, payload: { ...body, version: 1 } }), 200);
    const res = await t.request({
      method: 'PUT',
      url: `/api/v1/model/${created.model_id}`,
      payload: { ...body, name: 'Stale 3', version: 1 },
    });
    expectStatus(res, 409);
    expect(json(res)).toMatchObject({ code: 'VERSION_CONFLICT' });
    expect(json(res).message).toContain('is at version 2, not 1');
    const read = json(await t.request({ method: 'GET', url: `/api/v1/model/${created.model_id}` }));
    expect(read).toMatchObject({ name: 'Stale 2', version: 2 });
  });

  it('sets last_rebalance_date when given and keeps it when omitted', async () => {
    const created = json(await create({ name: 'Dated' }));
    const url = `/api/v1/model/${created.model_id}`;
    const base = { name: 'Dated', positions: [], portfolios: [] };
    const dated = await t.request({
      method: 'PUT',
      url,
      payload: { ...base, last_rebalance_date: '2026-11-20T13:05:00+01:00', version: 1 },
    });
    expect(json(dated).last_rebalance_date).toBe('2026-11-20T12:05:00.000Z');
    const kept = await t.request({ method: 'PUT', url, payload: { ...base, version: 2 } });
    expect(json(kept)).toMatchObject({ last_rebalance_date: '2026-11-20T12:05:00.000Z', version: 3 });
    const cleared = await t.request({ method: 'PUT', url, payload: { ...base, last_rebalance_date: null, version: 3 } });
    expect(json(cleared).last_rebalance_date).toBeNull();
  });

  it('requires positions, portfolios and version', async () => {
    const created = json(await create({ name: 'Partial' }));
    const res = await t.request({ method: 'PUT', url: `/api/v1/model/${created.model_id}`, payload: { name: 'x' } });
    expectStatus(res, 400);
    expect(json(res).details).toEqual([
      { path: 'positions', message: 'positions is required' },
      { path: 'portfolios', message: 'portfolios is required' },
      { path: 'version', message: 'version is required' },
    ]);
  });

  it('answers 404 for a missing model and 409 when renaming onto a taken name', async () => {
    const payload = { name: 'Nobody', positions: [], portfolios: [], version: 1 };
    expectStatus(await t.request({ method: 'PUT', url: '/api/v1/model/0123456789abcdef01234567', payload }), 404);
    await create({ name: 'Occupied' });
    const mine = json(await create({ name: 'Mine' }));
    const res = await t.request({
      method: 'PUT',
      url: `/api/v1/model/${mine.model_id}`,
      payload: { ...payload, name: 'Occupied' },
    });
    expectStatus(res, 409);
    expect(json(res)).toMatchObject({ code: 'CONFLICT', message: 'A model named "Occupied" already exists' });
    expect(json(await t.request({ method: 'GET', url: `/api/v1/model/${mine.model_id}` })).version).toBe(1);
  });
});

describe('DELETE /api/v1/model/:model_id', () => {
  it('deletes with the current version and answers 204 with no body', async () => {
    const created = json(await create({ name: 'Doomed' }));
    const res = await t.request({ method: 'DELETE', url: `/api/v1/model/${created.model_id}?version=1` });
    expectStatus(res, 204);
    expect(res.body).toBe('');
    expectStatus(await t.request({ method: 'GET', url: `/api/v1/model/${created.model_id}` }), 404);
  });

  it('answers 409 for a stale version and keeps the model', async () => {
    const created = json(await create({ name: 'Survivor', positions: [position(sid(1), '0.1')] }));
    await t.request({ method: 'POST', url: `/api/v1/model/${created.model_id}/portfolio`, payload: { portfolios: [pid(99)] } });
    const res = await t.request({ method: 'DELETE', url: `/api/v1/model/${created.model_id}?version=1` });
    expectStatus(res, 409);
    expect(json(res).code).toBe('VERSION_CONFLICT');
    expectStatus(await t.request({ method: 'GET', url: `/api/v1/model/${created.model_id}` }), 200);
  });

  it('answers 400 without a version and 404 for a missing model', async () => {
    const created = json(await create({ name: 'No version' }));
    const missing = await t.request({ method: 'DELETE', url: `/api/v1/model/${created.model_id}` });
    expectStatus(missing, 400);
    expect(json(missing).message).toBe('version is required (the version you last read)');
    const bad = await t.request({ method: 'DELETE', url: `/api/v1/model/${created.model_id}?version=abc` });
    expect(json(bad).message).toBe('version must be a positive integer');
    const gone = await t.request({ method: 'DELETE', url: '/api/v1/model/0123456789abcdef01234567?version=1' });
    expectStatus(gone, 404);
  });

  it('frees its portfolios for another model', async () => {
    const first = json(await create({ name: 'Holder', portfolios: [pid(77)] }));
    expectStatus(await create({ name: 'Wants it', portfolios: [pid(77)] }), 409);
    await t.request({ method: 'DELETE', url: `/api/v1/model/${first.model_id}?version=1` });
    expectStatus(await create({ name: 'Wants it', portfolios: [pid(77)] }), 201);
  });
});
