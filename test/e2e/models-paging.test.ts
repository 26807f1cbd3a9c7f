// GET /api/v1/models: offset/limit combinations, sort_by, x-total-count.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { expectStatus, json } from '../helpers/fixtures.js';

let t: TestApp;
const created: { model_id: string; name: string }[] = [];
// Creation order: Delta, alpha, Charlie, bravo, Echo. Two are rebalanced (dates set through PUT).
const names = ['Delta', 'alpha', 'Charlie', 'bravo', 'Echo'];

beforeAll(async () => {
  t = await createTestApp();
  for (const name of names) {
    created.push(json(await t.request({ method: 'POST', url: '/api/v1/models', payload: { name } })));
  }
  const date = async (index: number, iso: string) => {
    const m = created[index]!;
    await t.request({
      method: 'PUT',
      url: `/api/v1/model/${m.model_id}`,
      payload: { name: m.name, positions: [], portfolios: [], last_rebalance_date: iso, version: 1 },
    });
  };
  await date(2, '2026-01-02T00:00:00.000Z'); // Charlie
  await date(4, '2026-03-04T00:00:00.000Z'); // Echo
});
afterAll(async () => {
  await t.close();
});

const list = (query = '') => t.request({ method: 'GET', url: `/api/v1/models${query}` });
const namesOf = (res: { body: string }) => json<{ name: string }[]>(res).map((m) => m.name);

describe('paging', () => {
  it('returns all models in creation order without paging parameters, with x-total-count', async () => {
    const res = await list();
    expectStatus(res, 200);
    expect(res.headers['x-total-count']).toBe('5');
    expect(namesOf(res)).toEqual(names);
  });

  it.each([
    ['?limit=2', ['Delta', 'alpha']],
    ['?offset=3', ['bravo', 'Echo']],
    ['?offset=1&limit=2', ['alpha', 'Charlie']],
    ['?offset=4&limit=10', ['Echo']],
    ['?offset=5', []],
    ['?limit=0', []],
    ['?offset=0&limit=5', names],
  ])('%s', async (query, expected) => {
    const res = await list(query);
    expectStatus(res, 200);
    expect(namesOf(res)).toEqual(expected);
    expect(res.headers['x-total-count']).toBe('5');
  });

  it.each(['?offset=6', '?offset=6&limit=10', '?offset=9007199254740991&limit=20', '?offset=20&limit=10&sort_by=-name'])(
    'answers an empty page with the total for an offset past the end (%s), as the portal expects',
    async (query) => {
      const res = await list(query);
      expectStatus(res, 200);
      expect(json(res)).toEqual([]);
      expect(res.headers['x-total-count']).toBe('5');
    },
  );

  it.each(['offset=-1', 'offset=abc', 'limit=1.5', 'limit=', 'limit=-3', 'offset=1e3'])('answers 400 for %s', async (query) => {
    const res = await list(`?${query}`);
    expectStatus(res, 400);
    const field = query.split('=')[0]!;
    expect(json(res).message).toBe(`${field} must be a non-negative integer`);
  });
});

describe('sorting', () => {
  it.each([
    ['name', ['Charlie', 'Delta', 'Echo', 'alpha', 'bravo']],
    ['-name', ['bravo', 'alpha', 'Echo', 'Delta', 'Charlie']],
    ['%2Bname', ['Charlie', 'Delta', 'Echo', 'alpha', 'bravo']],
    ['+name', ['Charlie', 'Delta', 'Echo', 'alpha', 'bravo']],
    ['-last_rebalance_date', ['Echo', 'Charlie', 'Delta', 'alpha', 'bravo']],
    ['last_rebalance_date,-name', ['bravo', 'alpha', 'Delta', 'Charlie', 'Echo']],
    ['-last_rebalance_date,name', ['Echo', 'Charlie', 'Delta', 'alpha', 'bravo']],
  ])('sort_by=%s', async (sortBy, expected) => {
    const res = await list(`?sort_by=${sortBy}`);
    expectStatus(res, 200);
    expect(namesOf(res)).toEqual(expected);
  });

  it('sorts by model_id in both directions', async () => {
    const ids = created.map((m) => m.model_id).sort();
    const asc = json<{ model_id: string }[]>(await list('?sort_by=model_id')).map((m) => m.model_id);
    const desc = json<{ model_id: string }[]>(await list('?sort_by=-model_id')).map((m) => m.model_id);
    expect(asc).toEqual(ids);
    expect(desc).toEqual([...ids].reverse());
  });

  it.each([
    ['', names],
    ['%20', names],
    [',', names],
    ['%20name%20,%20-model_id', ['Charlie', 'Delta', 'Echo', 'alpha', 'bravo']],
    ['name,', ['Charlie', 'Delta', 'Echo', 'alpha', 'bravo']],
    [',-name,,', ['bravo', 'alpha', 'Echo', 'Delta', 'Charlie']],
    ['%20-last_rebalance_date%20', ['Echo', 'Charlie', 'Delta', 'alpha', 'bravo']],
  ])('trims sort_by items and reads empty ones as the default order: sort_by=%s', async (sortBy, expected) => {
    const res = await list(`?sort_by=${sortBy}`);
    expectStatus(res, 200);
    expect(namesOf(res)).toEqual(expected);
  });

  it('pages through the sorted order', async () => {
    expect(namesOf(await list('?sort_by=-name&offset=1&limit=2'))).toEqual(['alpha', 'Echo']);
    expect(namesOf(await list('?sort_by=name&offset=3'))).toEqual(['alpha', 'bravo']);
  });

  it.each([
    ['sort_by=size', 'sort_by field "size" is not one of model_id, name, last_rebalance_date'],
    ['sort_by=name,-name', 'sort_by names "name" more than once'],
    ['sort_by=%20name%20,%20-name', 'sort_by names "name" more than once'],
    ['sort_by=*name', 'sort_by item "*name" is not a field name with an optional + or - prefix'],
  ])('answers 400 for %s', async (query, message) => {
    const res = await list(`?${query}`);
    expectStatus(res, 400);
    expect(json(res)).toMatchObject({ code: 'VALIDATION_ERROR', message });
  });
});
