// A portfolio-portal session replayed over a real socket, with the portal's
// header habits (kasbench/globeco-portfolio-management-portal,
// src/lib/api/orderGenerationService.ts): an axios instance whose default
// headers put `Content-Type: application/json` on every request, bodiless ones
// included (content-length 0), query parameters serialised the axios way, and
// errors read from `detail`. The URLs and parameters are the ones it sends.
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pid, sid } from '../helpers/fixtures.js';
import { createWorld, type World } from '../helpers/rebalancing.js';

let w: World;
let port: number;
let minute = 0;
const clock = { now: () => new Date(Date.UTC(2026, 10, 20, 13, minute)) };

beforeAll(async () => {
  w = await createWorld({}, { clock });
  w.security(sid('g1'), 'GRW1', '41.17');
  w.security(sid('g2'), 'GRW2', '12.5');
  w.security(sid('i1'), 'INC1', '99.95');
  w.holdings(pid('pg1'), { cash: '50000', securities: [{ securityId: sid('g1'), quantity: '100' }] });
  w.holdings(pid('pg2'), { cash: '20000', securities: [{ securityId: sid('g2'), quantity: '30' }] });
  w.holdings(pid('pi1'), { cash: '7000', securities: [] });
  await w.t.app.listen({ port: 0, host: '127.0.0.1' });
  port = (w.t.app.server.address() as { port: number }).port;
});
afterAll(async () => {
  await w.close();
});

/** axios's query-string encoding: encodeURIComponent, then a few characters put back (a space becomes "+"). */
const axiosEncode = (value: string) =>
  encodeURIComponent(value)
    .replace(/%3A/gi, ':')
    .replace(/%24/g, '$')
    .replace(/%2C/gi, ',')
    .replace(/%20/g, '+')
    .replace(/%5B/gi, '[')
    .replace(/%5D/gi, ']');

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  // biome-ignore lint/suspicious/noExplicitAny: the portal reads answers field by field
  readonly data: any;
}

/** One request as the portal's apiClient sends it. */
function portal(
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  options: { params?: Record<string, string | number | undefined>; data?: unknown } = {},
): Promise<Answer> {
  const query = Object.entries(options.params ?? {})
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${axiosEncode(k)}=${axiosEncode(String(v))}`)
    .join('&');
  const body = options.data === undefined ? '' : JSON.stringify(options.data);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method,
        path: query === '' ? path : `${path}?${query}`,
        headers: {
          Accept: 'application/json, text/plain, */*',
          'Content-Type': 'application/json',
          'User-Agent': 'axios/1.7.9',
          'Content-Length': String(Buffer.byteLength(body)),
          'Accept-Encoding': 'gzip, compress, deflate, br',
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, data: text === '' ? undefined : JSON.parse(text) });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** What the portal does with a 2xx (the data) and with anything else (`API Error: ${detail ?? message}`). */
async function ok(answer: Promise<Answer>, status = 200): Promise<Answer> {
  const res = await answer;
  if (res.status !== status) throw new Error(`API Error: ${res.data?.detail ?? res.data?.message ?? `HTTP ${res.status}`}`);
  expect(res.headers['x-correlation-id']).toEqual(expect.any(String));
  return res;
}

// orderGenerationApi / orderGenerationServiceApi, as the portal calls them.
const api = {
  listModels: (params: { offset?: number; limit?: number; sort_by?: string }) => portal('GET', '/api/v1/models', { params }),
  getModelById: (id: string) => portal('GET', `/api/v1/model/${id}`),
  createModel: (model: unknown) => portal('POST', '/api/v1/models', { data: model }),
  deleteModel: (id: string, version: number) => portal('DELETE', `/api/v1/model/${id}`, { params: { version } }),
  rebalanceModel: (id: string) => portal('POST', `/api/v1/model/${id}/rebalance`),
  listRebalances: (params: { offset?: number; limit?: number; sort_by?: string }) => portal('GET', '/api/v1/rebalances', { params }),
  getRebalanceById: (id: string) => portal('GET', `/api/v1/rebalance/${id}`),
  deleteRebalance: (id: string, version: number) => portal('DELETE', `/api/v1/rebalance/${id}`, { params: { version } }),
};

const names = (res: Answer) => (res.data as { name: string }[]).map((m) => m.name);

describe('a portal session over a real socket', () => {
  it('creates models, lists, sorts and pages them, rebalances, reads, sorts, pages and deletes rebalances, deletes a model', async () => {
    // The models page: nothing yet.
    const empty = await ok(api.listModels({ offset: 0, limit: 10 }));
    expect([empty.data, empty.headers['x-total-count']]).toEqual([[], '0']);

    // Create three models the way the model form does (decimals as strings and numbers).
    const growth = (
      await ok(
        api.createModel({
          name: 'Growth',
          positions: [
            { security_id: sid('g1'), target: '0.45', high_drift: '0.05', low_drift: '0.05' },
            { security_id: sid('g2'), target: 0.45, high_drift: 0.05, low_drift: 0.05 },
          ],
          portfolios: [pid('pg1'), pid('pg2')],
        }),
        201,
      )
    ).data;
    const income = (
      await ok(
        api.createModel({
          name: 'Income',
          positions: [{ security_id: sid('i1'), target: '0.9', high_drift: '0.05', low_drift: '0.02' }],
          portfolios: [pid('pi1')],
        }),
        201,
      )
    ).data;
    const balanced = (await ok(api.createModel({ name: 'Balanced', positions: [], portfolios: [] }), 201)).data;
    expect([growth.version, income.version, balanced.version]).toEqual([1, 1, 1]);

    // A form error reaches the user through `detail`, naming the position.
    await expect(
      ok(
        api.createModel({
          name: 'Upside down',
          positions: [{ security_id: sid('g1'), target: '0.1', high_drift: '0.01', low_drift: '0.03' }],
          portfolios: [],
        }),
        201,
      ),
    ).rejects.toThrow(`API Error: positions[0].low_drift must not be above high_drift for security ${sid('g1')} (0.03 > 0.01)`);

    // Page through the models while a page is full.
    const first = await ok(api.listModels({ offset: 0, limit: 2 }));
    const second = await ok(api.listModels({ offset: 2, limit: 2 }));
    expect([names(first), names(second), first.headers['x-total-count'], second.headers['x-total-count']]).toEqual([
      ['Growth', 'Income'],
      ['Balanced'],
      '3',
      '3',
    ]);

    // Each column sort of the models table, both ways; axios turns a space into "+".
    const modelSorts: [string, string[]][] = [
      ['name', ['Balanced', 'Growth', 'Income']],
      ['-name', ['Income', 'Growth', 'Balanced']],
      ['model_id', ['Growth', 'Income', 'Balanced']],
      ['-model_id', ['Balanced', 'Income', 'Growth']],
      [' name , -model_id', ['Balanced', 'Growth', 'Income']],
      ['', ['Growth', 'Income', 'Balanced']],
    ];
    for (const [sortBy, expected] of modelSorts) {
      expect(names(await ok(api.listModels({ offset: 0, limit: 10, sort_by: sortBy }))), sortBy).toEqual(expected);
    }

    // Rebalance from the model page: POST with content-length 0 and Content-Type: application/json.
    minute = 1;
    const rebalancedGrowth = (await ok(api.rebalanceModel(growth.model_id))).data;
    expect(rebalancedGrowth.map((r: { portfolio_id: string; status: string }) => [r.portfolio_id, r.status])).toEqual([
      [pid('pg1'), 'ok'],
      [pid('pg2'), 'ok'],
    ]);
    minute = 2;
    const rebalancedIncome = (await ok(api.rebalanceModel(income.model_id))).data;
    minute = 3;
    const again = (await ok(api.rebalanceModel(growth.model_id))).data;
    const [rG, rI, rG2] = [rebalancedGrowth[0].rebalance_id, rebalancedIncome[0].rebalance_id, again[0].rebalance_id] as [
      string,
      string,
      string,
    ];
    expect(new Set([rG, rI, rG2]).size).toBe(3);

    for (const [sortBy, expected] of [
      ['last_rebalance_date', ['Balanced', 'Income', 'Growth']],
      ['-last_rebalance_date', ['Growth', 'Income', 'Balanced']],
    ] as const) {
      expect(names(await ok(api.listModels({ offset: 0, limit: 10, sort_by: sortBy }))), sortBy).toEqual(expected);
    }

    // The rebalances page: the portal's default is offset 0, limit 20, sort_by -rebalance_date.
    const ids = (res: Answer) => (res.data as { rebalance_id: string }[]).map((r) => r.rebalance_id);
    const page = await ok(api.listRebalances({ offset: 0, limit: 20, sort_by: '-rebalance_date' }));
    expect([ids(page), page.headers['x-total-count']]).toEqual([[rG2, rI, rG], '3']);
    expect(page.data[2]).toMatchObject({ model_id: growth.model_id, model_name: 'Growth', number_of_portfolios: 2, version: 1 });
    expect(page.data[2].portfolios.map((p: { portfolio_id: string }) => p.portfolio_id)).toEqual([pid('pg1'), pid('pg2')]);

    // Each column sort of the rebalances table.
    const rebalanceSorts: [string, string[]][] = [
      ['rebalance_date', [rG, rI, rG2]],
      ['-rebalance_date', [rG2, rI, rG]],
      ['model_name', [rG, rG2, rI]],
      ['-model_name', [rI, rG2, rG]],
      ['number_of_portfolios', [rI, rG, rG2]],
      ['-number_of_portfolios', [rG2, rG, rI]],
      ['rebalance_id', [rG, rI, rG2]],
      ['-rebalance_id', [rG2, rI, rG]],
    ];
    for (const [sortBy, expected] of rebalanceSorts) {
      const sorted = await ok(api.listRebalances({ offset: 0, limit: 20, sort_by: sortBy }));
      expect(ids(sorted), sortBy).toEqual(expected);
      expect(sorted.headers['x-total-count'], sortBy).toBe('3');
    }

    // Paging by 2, then past the end (the last page was full, so the portal asks once more).
    expect(ids(await ok(api.listRebalances({ offset: 0, limit: 2, sort_by: 'model_name' })))).toEqual([rG, rG2]);
    expect(ids(await ok(api.listRebalances({ offset: 2, limit: 2, sort_by: 'model_name' })))).toEqual([rI]);
    const past = await ok(api.listRebalances({ offset: 20, limit: 20, sort_by: '-rebalance_date' }));
    expect([past.data, past.headers['x-total-count']]).toEqual([[], '3']);
    const pastModels = await ok(api.listModels({ offset: 10, limit: 10 }));
    expect([pastModels.data, pastModels.headers['x-total-count']]).toEqual([[], '3']);

    // Delete a rebalance: read it for its version, then DELETE ?version= with an empty JSON request.
    const stored = (await ok(api.getRebalanceById(rI))).data;
    const deleted = await ok(api.deleteRebalance(rI, stored.version));
    expect(deleted.data).toEqual({ message: `Rebalance ${rI} deleted` });
    const after = await ok(api.listRebalances({ offset: 0, limit: 20, sort_by: '-rebalance_date' }));
    expect([ids(after), after.headers['x-total-count']]).toEqual([[rG2, rG], '2']);

    // Delete a model the same way: 204, no body.
    const model = (await ok(api.getModelById(balanced.model_id))).data;
    const gone = await ok(api.deleteModel(balanced.model_id, model.version), 204);
    expect(gone.text).toBe('');
    const left = await ok(api.listModels({ offset: 0, limit: 10 }));
    expect([names(left), left.headers['x-total-count']]).toEqual([['Growth', 'Income'], '2']);
    await expect(ok(api.getModelById(balanced.model_id))).rejects.toThrow(`API Error: Model ${balanced.model_id} not found`);
  });
});
