// Start-up never crash-loops on data: when duplicates already in the database
// keep a unique index from being created, the service starts anyway, says
// which index and which values, serves reads, and refuses the writes that
// need the index with a 503 until a retry creates it.
import { MongoClient } from 'mongodb';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp, testConfig } from '../helpers/app.js';
import { expectStatus, json } from '../helpers/fixtures.js';

let t: TestApp | undefined;
let client: MongoClient | undefined;
afterEach(async () => {
  await t?.close();
  await client?.close();
  t = undefined;
  client = undefined;
});

/** A model document as the service stores it, written straight into the database. */
const modelDocument = (name: string) => ({
  name,
  positions: [],
  portfolios: [],
  last_rebalance_date: null,
  version: 1,
  created_at: new Date('2026-01-02T00:00:00Z'),
  updated_at: new Date('2026-01-02T00:00:00Z'),
});

describe('a unique index that duplicates in the data keep from being created', () => {
  it('starts, serves reads, refuses name writes with a 503 naming the index, reports it, and recovers once the duplicate is gone', async () => {
    const config = testConfig();
    client = new MongoClient(config.mongodb.uri!);
    const models = client.db(config.mongodb.dbName).collection('models');
    // The database came back without its indexes, and two models got the same name.
    await models.insertMany([modelDocument('Twin'), modelDocument('Twin'), modelDocument('Single')]);

    t = await createTestApp({ MONGODB_DB: config.mongodb.dbName });

    const listed = await t.request({ method: 'GET', url: '/api/v1/models' });
    expectStatus(listed, 200);
    expect(
      json(listed)
        .map((m: { name: string }) => m.name)
        .sort(),
    ).toEqual(['Single', 'Twin', 'Twin']);

    const refused = await t.request({ method: 'POST', url: '/api/v1/models', payload: { name: 'New' } });
    expectStatus(refused, 503);
    expect(refused.headers['retry-after']).toBe('30');
    expect(json(refused)).toMatchObject({ status_code: 503, code: 'UPSTREAM_UNAVAILABLE', correlation_id: expect.any(String) });
    expect(json(refused).message).toContain('models_name_unique');
    expect(json(refused).message).toContain('"Twin" (2 documents)');

    // A write that keeps the name needs no unique index; a rename does.
    const single = json(listed).find((m: { name: string }) => m.name === 'Single');
    const position = { security_id: 'SEC000000000000000000001', target: '0.5', high_drift: '0.02', low_drift: '0.02' };
    const added = await t.request({ method: 'POST', url: `/api/v1/model/${single.model_id}/position`, payload: position });
    expectStatus(added, 200);
    const renamed = await t.request({
      method: 'PUT',
      url: `/api/v1/model/${single.model_id}`,
      payload: { name: 'Renamed', positions: [position], portfolios: [], version: json(added).version },
    });
    expectStatus(renamed, 503);
    expect(json(renamed).message).toContain('models_name_unique');

    for (const url of ['/health/ready', '/health/health']) {
      const health = await t.request({ method: 'GET', url });
      expectStatus(health, 200);
      expect(json(health)).toMatchObject({
        status: 'degraded',
        degraded: [{ index: 'models_name_unique', collection: 'models', duplicates: [{ value: 'Twin', count: 2 }] }],
      });
    }

    // An operator removes the duplicate; the next retry creates the index.
    await models.deleteMany({ name: 'Twin', _id: { $ne: (await models.findOne({ name: 'Twin' }))!._id } });
    const report = await t.app.maintenance.sweep();
    expect(report.missingIndexes).toEqual([]);

    const created = await t.request({ method: 'POST', url: '/api/v1/models', payload: { name: 'New' } });
    expectStatus(created, 201);
    const twice = await t.request({ method: 'POST', url: '/api/v1/models', payload: { name: 'Twin' } });
    expectStatus(twice, 409);
    const ready = await t.request({ method: 'GET', url: '/health/ready' });
    expect(json(ready)).toEqual({ status: 'ready' });
  });
});
