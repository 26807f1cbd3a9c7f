// Property-based fuzzing of every operation of /openapi.json: generated paths,
// queries, headers and bodies (operators, prototype keys, huge and tiny numbers,
// odd unicode, over-long ids, wrong types), each sent through the real app.
// Whatever is sent, the answer comes within a bounded time, never as a 500,
// always with x-correlation-id, and every error in the one shape of api.md.
//
// Bounded so the suite stays fast: FUZZ_RUNS runs per operation (default 30);
// set FUZZ_RUNS=2000 for a deep run, FUZZ_SEED to replay a failure.

import { Decimal as Dec } from 'decimal.js';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { pid, position, sid } from '../helpers/fixtures.js';
import { createWorld, type World } from '../helpers/rebalancing.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 30);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
/** An answer must come within this; a request that blocks or loops fails the property instead of hanging the run. */
const ANSWER_WITHIN_MS = 10_000;

/** Per test: generous, scaled with the runs (a deep run takes minutes). */
const TEST_TIMEOUT_MS = 30_000 + RUNS * 300;

// Built while the file is collected, so each operation of the document is a test of its own.
const w: World = await createWorld({ UPSTREAM_RETRIES: '1' });
const operations = listOperations(JSON.parse((await w.t.request({ method: 'GET', url: '/openapi.json' })).body) as OpenApi);

// Things that exist, so generated paths reach past "not found" now and then: a model with a
// portfolio that has holdings, and a stored rebalance of it.
w.security(sid('fz1'), 'FZA', '41.17');
w.security(sid('fz2'), 'FZB', '0.5');
w.holdings(pid('fz1'), { cash: '100000', securities: [{ securityId: sid('fz1'), quantity: '100' }] });
const EXISTING: Record<string, string> = {
  model_id: await w.model('Fuzz existing', [position(sid('fz1'), '0.3'), position(sid('fz2'), '0.1', '0.05')], [pid('fz1')]),
  portfolio_id: pid('fz1'),
  rebalance_id: (
    JSON.parse((await w.t.request({ method: 'POST', url: `/api/v1/portfolio/${pid('fz1')}/rebalance` })).body) as { rebalance_id: string }
  ).rebalance_id,
};
afterAll(async () => {
  await w.close();
});

// ---- the OpenAPI document, as much of it as the generators need ----

interface JsonSchema {
  $ref?: string;
  type?: string;
  pattern?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
}
interface Parameter {
  in: 'path' | 'query' | 'header';
  name: string;
  schema?: JsonSchema;
}
interface OpenApi {
  paths: Record<string, Record<string, { parameters?: Parameter[]; requestBody?: { content: Record<string, { schema: JsonSchema }> } }>>;
  components?: { schemas?: Record<string, JsonSchema> };
}
interface Operation {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly path: string;
  readonly params: Parameter[];
  readonly body: JsonSchema | undefined;
  readonly schemas: Record<string, JsonSchema>;
}

function listOperations(spec: OpenApi): Operation[] {
  const out: Operation[] = [];
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      out.push({
        method: method.toUpperCase() as Operation['method'],
        path,
        params: op.parameters ?? [],
        body: op.requestBody?.content['application/json']?.schema,
        schemas: spec.components?.schemas ?? {},
      });
    }
  }
  return out;
}

// ---- generators ----

/** Decimals near the bounds that are accepted (1e-34, 34 digits) and just past them. */
const edgeDecimal = fc
  .tuple(fc.stringMatching(/^[1-9]\d{0,35}$/), fc.integer({ min: -40, max: 1 }))
  .map(([digits, exponent]) => `${digits}e${exponent - digits.length + 1}`);

/** Decimals spelt with any exponent and any number of digits: the ones that used to take the process down. */
const spelledDecimal = fc
  .tuple(
    fc.constantFrom('', '-', '+'),
    fc.oneof(
      fc.stringMatching(/^\d{1,40}$/),
      fc.integer({ min: 1, max: 5000 }).map((n) => '9'.repeat(n)),
    ),
    fc.option(fc.stringMatching(/^\d{0,40}$/), { nil: undefined }),
    fc.option(
      fc.oneof(
        fc.integer({ min: -1_000_000_000, max: 1_000_000_000 }),
        fc.constantFrom(-400_000_000, 99_999_999_999, -7000, 34, -34, 35, -35),
      ),
      { nil: undefined },
    ),
  )
  .map(
    ([sign, whole, fraction, exponent]) =>
      `${sign}${whole}${fraction === undefined ? '' : `.${fraction}`}${exponent === undefined ? '' : `e${exponent}`}`,
  );

const NASTY_STRINGS = [
  '1e-400000000',
  '1e-100000000',
  '-1e+999999999',
  '1e400',
  '5e-324',
  'NaN',
  'Infinity',
  '-0',
  '0x10',
  '1_000',
  '٣',
  '１',
  `0.${'0'.repeat(5000)}1`,
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '$gt',
  '$where',
  '$ne',
  '{"$gt":""}',
  '',
  ' ',
  '\u0000',
  '\ud800',
  '\udfff',
  '\u202e',
  '😀',
  'Ω≈ç√',
  'a'.repeat(5000),
  '../../etc/passwd',
  '%00',
  '%',
  '-last_rebalance_date,name',
  ' name',
  'name,name',
  ',',
  '683b6d88a29ee10e8b499643',
  '6740f1c2a1b2c3d4e5f60718',
];
const oddUnicode = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 30 });
const nastyString = fc.oneof(
  fc.constantFrom(...NASTY_STRINGS),
  spelledDecimal,
  edgeDecimal,
  oddUnicode,
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.stringMatching(/^[A-Za-z0-9]{20,28}$/),
  fc.integer({ min: 25, max: 3000 }).map((n) => 'f'.repeat(n)),
);
const nastyNumber = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(1e308, -1e308, 5e-324, 0, -0, 2 ** 53, 2 ** 53 + 2, 0.1, 1e21, 1e-7, 0.005, 0.95, 1),
);
const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', '$gt', '$set', '$where', 'positions.0.target', 'toString', '😀', ''];
const nastyKey = fc.oneof(fc.constantFrom(...PROTO_KEYS), oddUnicode);

/** Any JSON value, nasty at the leaves, a little nested. */
const anyJson: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    nastyString,
    nastyNumber,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.array(fc.tuple(nastyKey, tie('value')), { maxLength: 4 }).map((entries) => Object.fromEntries(entries)),
  ),
})).value;

const resolve = (schema: JsonSchema, schemas: Record<string, JsonSchema>): JsonSchema =>
  schema.$ref === undefined ? schema : (schemas[schema.$ref.split('/').pop()!] ?? {});

/** A value shaped like the schema most of the time, nasty in places, anything now and then. */
function fromSchema(raw: JsonSchema, schemas: Record<string, JsonSchema>, depth = 0): fc.Arbitrary<unknown> {
  const schema = resolve(raw, schemas);
  if (depth > 4) return anyJson;
  const choices = schema.anyOf ?? schema.oneOf;
  let shaped: fc.Arbitrary<unknown>;
  if (choices !== undefined && choices.length > 0) {
    shaped = fc.oneof(...choices.map((c) => fromSchema(c, schemas, depth + 1)));
  } else if (schema.enum !== undefined && schema.enum.length > 0) {
    shaped = fc.constantFrom(...schema.enum);
  } else if (schema.type === 'object' || schema.properties !== undefined) {
    const properties = Object.entries(schema.properties ?? {});
    shaped = fc
      .tuple(
        fc.tuple(
          ...properties.map(([name, property]) =>
            fc.option(fromSchema(property, schemas, depth + 1), { nil: undefined, freq: 6 }).map((v) => [name, v] as const),
          ),
        ),
        fc.array(fc.tuple(nastyKey, anyJson), { maxLength: 2 }),
        fc.boolean(),
      )
      .map(([known, extra, withExtra]) => Object.fromEntries([...known.filter(([, v]) => v !== undefined), ...(withExtra ? extra : [])]));
  } else if (schema.type === 'array') {
    shaped = fc.array(fromSchema(schema.items ?? {}, schemas, depth + 1), { maxLength: 6 });
  } else if (schema.type === 'string') {
    shaped = schema.pattern === undefined ? nastyString : fc.oneof(fc.stringMatching(new RegExp(schema.pattern)), nastyString);
  } else if (schema.type === 'number' || schema.type === 'integer') {
    shaped = fc.oneof(nastyNumber, fc.integer({ min: 0, max: 3 }));
  } else if (schema.type === 'boolean') {
    shaped = fc.boolean();
  } else {
    shaped = anyJson;
  }
  return fc.oneof({ arbitrary: shaped, weight: 8 }, { arbitrary: anyJson, weight: 1 });
}

interface Sent {
  readonly method: Operation['method'];
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly payload: string | undefined;
}

/** Percent-encoded, lone surrogates included (encodeURIComponent throws on those: their UTF-8 replacement is sent). */
const encode = (text: string) => {
  try {
    return encodeURIComponent(text);
  } catch {
    return [...Buffer.from(text)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
  }
};

/** A path segment: the real thing, a nasty string (encoded or, now and then, raw). */
const segment = (param: Parameter | undefined) =>
  fc.oneof(
    { arbitrary: param?.schema?.pattern === undefined ? nastyString : fc.stringMatching(new RegExp(param.schema.pattern)), weight: 3 },
    { arbitrary: nastyString.map(encode), weight: 3 },
    { arbitrary: fc.constantFrom('%', '%zz', '%E0%A4%A', '..', '%2e%2e', '%2F', 'a%00b'), weight: 1 },
    { arbitrary: fc.constant(EXISTING[param?.name ?? ''] ?? 'none'), weight: 3 },
  );

function request(op: Operation): fc.Arbitrary<Sent> {
  const pathNames = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
  const queryParams = op.params.filter((p) => p.in === 'query');
  const path = fc
    .tuple(...pathNames.map((name) => segment(op.params.find((p) => p.in === 'path' && p.name === name))))
    .map((values) => pathNames.reduce((url, name, i) => url.replace(`{${name}}`, values[i]!), op.path));
  const query = fc
    .tuple(
      fc.tuple(
        ...queryParams.map((p) =>
          fc.option(fc.oneof(p.schema === undefined ? nastyString : fromSchema(p.schema, op.schemas), nastyString), { nil: undefined }),
        ),
      ),
      fc.array(fc.tuple(nastyKey, nastyString), { maxLength: 2 }),
    )
    .map(([known, extra]) => {
      const search = new URLSearchParams();
      queryParams.forEach((p, i) => {
        const value = known[i];
        if (value === undefined) return;
        for (const item of Array.isArray(value) ? value : [value])
          search.append(p.name, typeof item === 'string' ? item : (JSON.stringify(item) ?? ''));
      });
      for (const [key, value] of extra) search.append(key, value);
      const text = search.toString();
      return text === '' ? '' : `?${text}`;
    });
  const body: fc.Arbitrary<{ payload: string | undefined; contentType: string | undefined }> = fc.oneof(
    {
      arbitrary: (op.body === undefined ? anyJson : fromSchema(op.body, op.schemas)).map((value) => ({
        payload: JSON.stringify(value) ?? 'null',
        contentType: 'application/json',
      })),
      weight: op.body === undefined ? 1 : 8,
    },
    { arbitrary: fc.constant({ payload: undefined, contentType: undefined }), weight: op.body === undefined ? 6 : 1 },
    {
      arbitrary: fc
        .tuple(
          fc.constantFrom(
            'application/json',
            'text/plain',
            'application/x-www-form-urlencoded',
            'application/json; charset=utf-16',
            'application/xml',
          ),
          fc.oneof(
            oddUnicode,
            fc.constantFrom(
              '',
              '{',
              '{"a":',
              '[1,',
              'null',
              '1e999',
              '{"__proto__":{"polluted":1}}',
              '{"constructor":{"prototype":{"polluted":1}}}',
            ),
          ),
        )
        .map(([contentType, payload]) => ({ payload, contentType })),
      weight: 1,
    },
  );
  const headers = fc.record(
    {
      'x-correlation-id': fc.oneof(
        fc.stringMatching(/^[A-Za-z0-9._:-]{1,40}$/),
        fc.constantFrom('a'.repeat(300), 'bad id with spaces', '\u00e9t\u00e9'),
      ),
      authorization: fc.constantFrom('Bearer a b', 'Bearer', 'Basic x', 'Bearer 0123456789abcdef0123'),
    },
    { requiredKeys: [] },
  );
  return fc.tuple(path, query, body, headers).map(([p, q, b, h]) => ({
    method: op.method,
    url: `${p}${q}`,
    headers: { ...h, ...(b.contentType === undefined ? {} : { 'content-type': b.contentType }) },
    payload: b.payload,
  }));
}

// ---- the property ----

async function send(sent: Sent) {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'no answer'>((resolve) => {
    timer = setTimeout(() => resolve('no answer'), ANSWER_WITHIN_MS);
  });
  try {
    const { payload, ...rest } = sent;
    return await Promise.race([w.t.request(payload === undefined ? rest : { ...rest, payload }), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Why the answer to a request breaks the contract, or undefined when it keeps it. */
async function problem(sent: Sent): Promise<string | undefined> {
  return answerProblem(await send(sent));
}

function answerProblem(res: Awaited<ReturnType<typeof send>>): string | undefined {
  if (res === 'no answer') return `no answer within ${ANSWER_WITHIN_MS} ms`;
  if (res.statusCode >= 500 && res.statusCode !== 503) return `answered ${res.statusCode}: ${res.body.slice(0, 300)}`;
  const correlation = res.headers['x-correlation-id'];
  let body: Record<string, unknown> | undefined;
  try {
    body = res.statusCode >= 400 ? (JSON.parse(res.body) as Record<string, unknown>) : undefined;
  } catch {
    return `answered ${res.statusCode} with a body that is not JSON: ${res.body.slice(0, 200)}`;
  }
  if (typeof correlation !== 'string' || correlation === '') return `answered ${res.statusCode} without x-correlation-id`;
  if (res.statusCode === 503 && res.headers['retry-after'] === undefined) return 'answered 503 without retry-after';
  if (body === undefined) return undefined;
  const shaped =
    body.status_code === res.statusCode &&
    typeof body.code === 'string' &&
    /^[A-Z_]+$/.test(body.code) &&
    typeof body.message === 'string' &&
    body.message !== '' &&
    body.detail === body.message &&
    Array.isArray(body.details) &&
    body.details.every((d: { path?: unknown; message?: unknown }) => typeof d.path === 'string' && typeof d.message === 'string') &&
    body.correlation_id === correlation &&
    Object.keys(body).every((k) => ['status_code', 'code', 'message', 'detail', 'details', 'correlation_id'].includes(k));
  if (!shaped) return `answered ${res.statusCode} outside the error shape: ${res.body.slice(0, 300)}`;
  if (res.body.length > 20_000) return `answered ${res.statusCode} with an error body of ${res.body.length} characters (an echoed input?)`;
  return undefined;
}

const parameters = (runs: number): fc.Parameters<[Sent]> => ({
  numRuns: runs,
  ...(SEED === undefined ? {} : { seed: SEED }),
  endOnFailure: false,
});

describe('fuzzing every operation of /openapi.json', () => {
  it(
    'answers decimals of any size and spelling on every model write within the bound, with 201, 200 or a 400 naming the field',
    async () => {
      // Weighted so about half the writes are accepted: stored and written back, not only refused.
      const drift = fc.oneof(
        { arbitrary: spelledDecimal, weight: 1 },
        { arbitrary: edgeDecimal, weight: 3 },
        { arbitrary: fc.constantFrom('0', '0.02', '1'), weight: 3 },
      );
      const written = fc.record({
        security_id: fc.stringMatching(/^[A-Z0-9]{24}$/),
        target: fc.oneof(
          { arbitrary: spelledDecimal, weight: 1 },
          { arbitrary: edgeDecimal, weight: 1 },
          { arbitrary: fc.constantFrom('0.1', '0.005', '0.95', '5e-3'), weight: 4 },
        ),
        high_drift: drift,
        low_drift: drift,
      });
      const writes = fc.tuple(fc.constantFrom('POST /api/v1/models', 'POST /api/v1/model/{id}/position'), written, fc.integer());
      // What is accepted is removed again, so the collection (and each write's cost) stays the same size.
      const model = await w.model('Fuzz decimals', [], []);
      await fc.assert(
        fc.asyncProperty(writes, async ([route, p, n]) => {
          const headers = { 'content-type': 'application/json' };
          const sent: Sent =
            route === 'POST /api/v1/models'
              ? {
                  method: 'POST',
                  url: '/api/v1/models',
                  headers,
                  payload: JSON.stringify({ name: `Fuzz ${n} ${Math.random()}`, positions: [p] }),
                }
              : { method: 'POST', url: `/api/v1/model/${model}/position`, headers, payload: JSON.stringify(p) };
          const res = await send(sent);
          expect(answerProblem(res)).toBeUndefined();
          if (res === 'no answer') return;
          expect([200, 201, 400], res.body.slice(0, 300)).toContain(res.statusCode);
          if (res.statusCode >= 300) return;
          const answer = JSON.parse(res.body) as { model_id: string; version: number; positions: Record<string, string>[] };
          if (!new Dec(p.target).isZero()) {
            // Accepted: written back as the same decimal, digit for digit.
            const back = answer.positions.find((q) => q.security_id === p.security_id)!;
            for (const field of ['target', 'high_drift', 'low_drift'] as const)
              expect(new Dec(back[field]!).eq(new Dec(p[field])), `${field} ${p[field]} -> ${back[field]}`).toBe(true);
          }
          const removed =
            res.statusCode === 201
              ? await w.t.request({ method: 'DELETE', url: `/api/v1/model/${answer.model_id}?version=${answer.version}` })
              : await w.t.request({ method: 'DELETE', url: `/api/v1/model/${model}/position`, payload: p });
          expect(removed.statusCode, removed.body).toBeLessThan(300);
        }),
        { numRuns: RUNS * 5, ...(SEED === undefined ? {} : { seed: SEED }) },
      );
    },
    TEST_TIMEOUT_MS * 5,
  );

  it('finds every operation in the document', () => {
    expect(operations.length).toBeGreaterThanOrEqual(20);
  });

  for (const op of operations) {
    it(
      `${op.method} ${op.path}: every generated request is answered in the one error shape, with x-correlation-id, never 500`,
      async () => {
        await fc.assert(
          fc.asyncProperty(request(op), async (sent) => {
            const why = await problem(sent);
            expect(why, `${sent.method} ${sent.url.slice(0, 200)} ${sent.payload?.slice(0, 300) ?? ''}`).toBeUndefined();
          }),
          parameters(RUNS),
        );
      },
      TEST_TIMEOUT_MS,
    );
  }
});
