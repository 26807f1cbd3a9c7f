// Request bodies as real clients send them (api.md, Errors): the portal's axios
// sends `Content-Type: application/json` on every request, with content-length 0
// on the bodiless ones. An empty body is no body on a route that takes none; a
// route that needs one says so; a body that is not JSON is a 415.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatus, json, pid, position, sid } from '../helpers/fixtures.js';
import { createWorld, type World } from '../helpers/rebalancing.js';

let w: World;
let modelId: string;

beforeAll(async () => {
  w = await createWorld();
  w.security(sid('a'), 'AAA', '25');
  w.holdings(pid('b1'), { cash: '10000', securities: [] });
  w.holdings(pid('b2'), { cash: '5000', securities: [{ securityId: sid('a'), quantity: '10' }] });
  modelId = await w.model('Bodies', [position(sid('a'), '0.5')], [pid('b1'), pid('b2')]);
});
afterAll(async () => {
  await w.close();
});

/** A request without a body, with `content-type` as given (or none) and content-length 0. */
const bodiless = (method: 'POST' | 'DELETE', url: string, contentType: string | undefined) =>
  w.t.request({
    method,
    url,
    headers: { ...(contentType === undefined ? {} : { 'content-type': contentType }), 'content-length': '0' },
    payload: '',
  });

describe('routes that take no body', () => {
  // Each step takes the next content type of its row, so a row of several covers each of them.
  it.each([
    ['application/json', ['application/json']],
    ['application/json with a charset', ['application/json; charset=utf-8']],
    ['form data, text/plain or nothing', ['application/x-www-form-urlencoded', 'text/plain', undefined]],
  ])('rebalance, submit and delete with an empty body sent as %s', async (what, contentTypes) => {
    let step = 0;
    const send = (method: 'POST' | 'DELETE', url: string) => bodiless(method, url, contentTypes[step++ % contentTypes.length]);

    const single = await send('POST', `/api/v1/portfolio/${pid('b1')}/rebalance`);
    expect([single.statusCode, single.body]).toEqual([200, expect.any(String)]);
    expect(json(single)).toMatchObject({ portfolio_id: pid('b1'), status: 'ok' });

    const whole = await send('POST', `/api/v1/model/${modelId}/rebalance`);
    expect([whole.statusCode, whole.body]).toEqual([200, expect.any(String)]);
    const rebalanceId = json(whole)[0].rebalance_id as string;
    expect(json(whole).map((r: { portfolio_id: string }) => r.portfolio_id)).toEqual([pid('b1'), pid('b2')]);

    const submitted = await send('POST', `/api/v1/rebalance/${rebalanceId}/submit`);
    expect([submitted.statusCode, submitted.body]).toEqual([200, expect.any(String)]);
    expect(json(submitted)).toMatchObject({ rebalance_id: rebalanceId, rejected: 0, failed: 0 });

    const { version } = json(await w.t.request({ method: 'GET', url: `/api/v1/rebalance/${rebalanceId}` }));
    const deleted = await send('DELETE', `/api/v1/rebalance/${rebalanceId}?version=${version}`);
    expect([deleted.statusCode, json(deleted)]).toEqual([200, { message: `Rebalance ${rebalanceId} deleted` }]);

    const doomed = await w.model(`Doomed ${what}`, [], []);
    const gone = await send('DELETE', `/api/v1/model/${doomed}?version=1`);
    expect([gone.statusCode, gone.body]).toEqual([204, '']);
    expectStatus(await w.t.request({ method: 'GET', url: `/api/v1/model/${doomed}` }), 404);
  });
});

describe('routes that need a body', () => {
  const routes = () =>
    [
      ['POST', '/api/v1/models'],
      ['PUT', `/api/v1/model/${modelId}`],
      ['POST', `/api/v1/model/${modelId}/position`],
      ['PUT', `/api/v1/model/${modelId}/position`],
      ['DELETE', `/api/v1/model/${modelId}/position`],
      ['POST', `/api/v1/model/${modelId}/portfolio`],
      ['DELETE', `/api/v1/model/${modelId}/portfolio`],
      ['POST', '/api/v1/rebalances/portfolios'],
    ] as const;

  it.each([
    ['sent as application/json', { 'content-type': 'application/json', 'content-length': '0' }, ''],
    ['of blanks, sent as application/json', { 'content-type': 'application/json' }, ' \r\n '],
    ['sent without content-type', {}, ''],
  ])('answer 400 "a JSON body is required" to an empty body %s', async (_what, headers, payload) => {
    for (const [method, url] of routes()) {
      const res = await w.t.request({ method, url, headers, payload });
      expectStatus(res, 400, `${method} ${url}`);
      expect(json(res), `${method} ${url}`).toMatchObject({
        status_code: 400,
        code: 'VALIDATION_ERROR',
        message: 'a JSON body is required',
        detail: 'a JSON body is required',
        correlation_id: res.headers['x-correlation-id'],
      });
    }
    const model = json(await w.t.request({ method: 'GET', url: `/api/v1/model/${modelId}` }));
    expect(model).toMatchObject({ version: 1, portfolios: [pid('b1'), pid('b2')] });
  });

  it('answer 415 to a JSON body sent as text/plain or as form data, and store nothing', async () => {
    const before = json(await w.t.request({ method: 'GET', url: '/api/v1/models' })).length;
    const bodies: [string, string][] = [
      ['text/plain', JSON.stringify({ name: 'As text' })],
      ['text/plain; charset=utf-8', JSON.stringify({ name: 'As text' })],
      ['application/x-www-form-urlencoded', 'name=As+form'],
      ['multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="name"\r\n\r\nAs form\r\n--x--\r\n'],
    ];
    for (const [contentType, payload] of bodies) {
      for (const [method, url] of routes()) {
        const res = await w.t.request({ method, url, headers: { 'content-type': contentType }, payload });
        expectStatus(res, 415, `${contentType} ${method} ${url}`);
        expect(json(res), `${contentType} ${method} ${url}`).toMatchObject({
          status_code: 415,
          code: 'UNSUPPORTED_MEDIA_TYPE',
          message: 'The request body is not JSON; send it with content-type application/json',
        });
      }
    }
    expect(json(await w.t.request({ method: 'GET', url: '/api/v1/models' }))).toHaveLength(before);
  });

  it('answer 415 in the error shape to a malformed content-type (Fastify refuses it before any parser)', async () => {
    for (const contentType of ['json', 'foo bar']) {
      const res = await w.t.request({ method: 'POST', url: '/api/v1/models', headers: { 'content-type': contentType }, payload: '{}' });
      expectStatus(res, 415, contentType);
      expect(json(res), contentType).toMatchObject({
        status_code: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
        message: 'The request content-type is not supported; send application/json',
      });
    }
  });
});
