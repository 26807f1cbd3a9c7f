// Clients racing on the same model: no update is ever lost, a stale version
// always loses, and a portfolio never ends up in two models.
import { ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPortfolioClaims } from '../../src/modules/models/portfolio-claims.js';
import { createModelRepository } from '../../src/modules/models/repository.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import {
  createModel,
  expectEveryStatus,
  expectStatus,
  json,
  type PositionBody,
  pid,
  position,
  send,
  sid,
  statuses,
} from '../helpers/fixtures.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

const model = (positions: PositionBody[] = [], portfolios: string[] = []) => createModel(t, positions, portfolios);
const get = async (id: string) => json(expectStatus(await send(t, { method: 'GET', url: `/api/v1/model/${id}` }), 200));

describe('racing writers', () => {
  it('keeps every one of 25 concurrent position adds', async () => {
    const id = await model();
    const results = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        send(t, { method: 'POST', url: `/api/v1/model/${id}/position`, payload: position(sid(i + 1), '0.01') }),
      ),
    );
    expectEveryStatus(results, 200);
    const stored = await get(id);
    expect(stored.version).toBe(26);
    expect(stored.positions.map((p: PositionBody) => p.security_id).sort()).toEqual(
      Array.from({ length: 25 }, (_, i) => sid(i + 1)).sort(),
    );
  });

  it('keeps every change when position and portfolio writes interleave', async () => {
    const id = await model([position(sid(1), '0.1'), position(sid(2), '0.1')]);
    const writes = [
      ...Array.from({ length: 10 }, (_, i) =>
        send(t, { method: 'POST', url: `/api/v1/model/${id}/portfolio`, payload: { portfolios: [pid(100 + i)] } }),
      ),
      send(t, { method: 'PUT', url: `/api/v1/model/${id}/position`, payload: position(sid(1), '0.2') }),
      send(t, { method: 'DELETE', url: `/api/v1/model/${id}/position`, payload: position(sid(2), '0.1') }),
      ...Array.from({ length: 5 }, (_, i) =>
        send(t, { method: 'POST', url: `/api/v1/model/${id}/position`, payload: position(sid(10 + i), '0.05') }),
      ),
    ];
    const results = await Promise.all(writes);
    expectEveryStatus(results, 200);
    const stored = await get(id);
    expect(stored.version).toBe(1 + writes.length);
    expect([...stored.portfolios].sort()).toEqual(Array.from({ length: 10 }, (_, i) => pid(100 + i)));
    const byId = Object.fromEntries(stored.positions.map((p: PositionBody) => [p.security_id, p.target]));
    expect(byId).toEqual({
      [sid(1)]: '0.2',
      [sid(10)]: '0.05',
      [sid(11)]: '0.05',
      [sid(12)]: '0.05',
      [sid(13)]: '0.05',
      [sid(14)]: '0.05',
    });
  });

  it('lets exactly one of ten replaces with the same version win', async () => {
    const id = await model();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        send(t, {
          method: 'PUT',
          url: `/api/v1/model/${id}`,
          payload: { name: `Winner ${i}`, positions: [position(sid(i + 1), '0.1')], portfolios: [], version: 1 },
        }),
      ),
    );
    expect(statuses(results, [200, 409])).toEqual([200, ...Array(9).fill(409)]);
    for (const loser of results.filter((r) => r.statusCode === 409)) expect(json(loser).code).toBe('VERSION_CONFLICT');
    const winner = json(results.find((r) => r.statusCode === 200)!);
    expect(await get(id)).toEqual(winner);
    expect(winner.version).toBe(2);
  });

  it('gives a portfolio to exactly one of eight models racing to add it', async () => {
    const ids = await Promise.all(Array.from({ length: 8 }, () => model()));
    const results = await Promise.all(
      ids.map((id) => send(t, { method: 'POST', url: `/api/v1/model/${id}/portfolio`, payload: { portfolios: [pid(500)] } })),
    );
    expect(statuses(results, [200, 409])).toEqual([200, ...Array(7).fill(409)]);
    const models = await Promise.all(ids.map(get));
    expect(models.filter((m) => m.portfolios.includes(pid(500)))).toHaveLength(1);
  });

  it('gives a portfolio to exactly one of six models created at once with it', async () => {
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        send(t, { method: 'POST', url: '/api/v1/models', payload: { name: `Creator ${i}`, portfolios: [pid(600), pid(601 + i)] } }),
      ),
    );
    expect(statuses(results, [201, 409])).toEqual([201, ...Array(5).fill(409)]);
    const winners = results.filter((r) => r.statusCode === 201);
    // The losers' other portfolios were released: a new model can take all of them.
    const winnerPortfolios: string[] = json(winners[0]!).portfolios;
    const losersPortfolios = Array.from({ length: 6 }, (_, i) => pid(601 + i)).filter((p) => !winnerPortfolios.includes(p));
    const late = await send(t, { method: 'POST', url: '/api/v1/models', payload: { name: 'Late', portfolios: losersPortfolios } });
    expectStatus(late, 201);
  });

  it('respects the claim of a model still being created (no document yet), and takes over one abandoned long ago', async () => {
    // Two writers claimed through the service's own code and have not written a model document (yet, or ever).
    const claims = createPortfolioClaims(t.app.mongo.db, createModelRepository(t.app.mongo.db));
    await claims.claim(new ObjectId().toHexString(), [pid(700)], 1, new Date());
    await claims.claim(new ObjectId().toHexString(), [pid(701)], 1, new Date(Date.now() - 3_600_000));
    const blocked = await send(t, { method: 'POST', url: '/api/v1/models', payload: { name: 'Second', portfolios: [pid(700)] } });
    expectStatus(blocked, 409);
    const taken = await send(t, { method: 'POST', url: '/api/v1/models', payload: { name: 'Heir', portfolios: [pid(701)] } });
    expectStatus(taken, 201);
  });
});
