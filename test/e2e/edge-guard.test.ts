// The edge of /api/v1 as an attacker meets it: the rate limit runs before the
// key check (guessing keys spends the guesser's budget), a valid key has its
// own budget, there is no limit unless one is configured, and the client
// address comes only from proxies that are trusted (TRUST_PROXY).
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { expectStatus, json, pid } from '../helpers/fixtures.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const KEY = 'edge-key-0123456789abcdef';
const write = (authorization: string | undefined, remoteAddress = '10.1.1.1') =>
  t!.request({
    method: 'POST',
    url: '/api/v1/models',
    payload: { name: `Edge ${Math.random()}` },
    remoteAddress,
    headers: authorization === undefined ? {} : { authorization },
  });

describe('rate limit', () => {
  it('is off by default: 700 requests from one address are all answered, none 429', async () => {
    t = await createTestApp();
    const statuses = new Set<number>();
    for (let i = 0; i < 700; i++) {
      statuses.add((await t.request({ method: 'GET', url: '/api/v1/model/not-an-id', remoteAddress: '10.9.9.9' })).statusCode);
    }
    expect([...statuses]).toEqual([400]);
  });

  it('counts wrong and missing keys against the caller address before checking them: guessing ends in 429', async () => {
    t = await createTestApp({ RATE_LIMIT_MAX: '5', API_KEYS: KEY });
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await write(i % 2 === 0 ? `Bearer guess-${i}-0123456789abcdef` : undefined)).statusCode);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
    const limited = await write('Bearer another-guess-0123456789');
    expect(json(limited)).toMatchObject({ code: 'RATE_LIMITED', message: expect.stringContaining('from one client address') });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // The key's owner has a budget of its own, even from the guesser's address; another address still gets its 401.
    expectStatus(await write(`Bearer ${KEY}`), 201);
    expectStatus(await write('Bearer guess-elsewhere-0123456789', '10.2.2.2'), 401);
  });

  it('limits a request with a valid key per key, whatever address it comes from', async () => {
    t = await createTestApp({ RATE_LIMIT_MAX: '2', API_KEYS: KEY });
    expectStatus(await write(`Bearer ${KEY}`, '10.3.0.1'), 201);
    expectStatus(await write(`Bearer ${KEY}`, '10.3.0.2'), 201);
    const third = await write(`Bearer ${KEY}`, '10.3.0.3');
    expectStatus(third, 429);
    expect(json(third).message).toContain('from one API key');
    // The address 10.3.0.3 has spent nothing: its keyless reads go through.
    expectStatus(await t.request({ method: 'GET', url: '/api/v1/models', remoteAddress: '10.3.0.3' }), 200);
  });
});

describe('API keys', () => {
  it('answers "not valid" to a malformed bearer header, and "needs an API key" only when there is none', async () => {
    t = await createTestApp({ API_KEYS: KEY });
    for (const header of ['Bearer a b', `Bearer ${KEY} extra`, `Basic ${KEY}`, 'Bearer']) {
      const res = await write(header);
      expectStatus(res, 401, header);
      expect(json(res).message, header).toBe('The API key is not valid');
    }
    expect(json(await write(undefined)).message).toMatch(/needs an API key/);
  });

  it('lets POST /rebalances/portfolios, a read, through without a key', async () => {
    t = await createTestApp({ API_KEYS: KEY });
    const res = await t.request({ method: 'POST', url: '/api/v1/rebalances/portfolios', payload: { portfolios: [pid(1)] } });
    expectStatus(res, 200);
    expect(json(res)).toEqual([]);
  });
});

describe('TRUST_PROXY', () => {
  it('with one hop, takes the entry its ingress added and ignores what the client wrote to the left of it', async () => {
    t = await createTestApp({ TRUST_PROXY: '1', RATE_LIMIT_MAX: '1' });
    const via = (forwardedFor: string) =>
      t!.request({ method: 'GET', url: '/api/v1/models', remoteAddress: '10.0.0.9', headers: { 'x-forwarded-for': forwardedFor } });
    expectStatus(await via('6.6.6.6, 1.2.3.4'), 200);
    // A fresh spoofed left-most entry does not make a fresh client.
    expectStatus(await via('7.7.7.7, 1.2.3.4'), 429);
    expectStatus(await via('1.2.3.5'), 200);
  });

  it('with proxy addresses, believes only those proxies: a client that is not one cannot name another address', async () => {
    t = await createTestApp({ TRUST_PROXY: '10.0.0.0/8, 192.168.1.1', RATE_LIMIT_MAX: '1' });
    const from = (remoteAddress: string, forwardedFor: string) =>
      t!.request({ method: 'GET', url: '/api/v1/models', remoteAddress, headers: { 'x-forwarded-for': forwardedFor } });
    expectStatus(await from('10.0.0.9', '6.6.6.6, 1.2.3.4'), 200);
    expectStatus(await from('192.168.1.1', '8.8.8.8, 1.2.3.4, 10.0.0.7'), 429); // still 1.2.3.4
    expectStatus(await from('1.2.3.6', '9.9.9.9'), 200);
    expectStatus(await from('1.2.3.6', '9.9.9.8'), 429); // 1.2.3.6 is not a proxy: its header is ignored
  });

  it('refuses "on" (every hop) and anything but off, a hop count or addresses, naming the variable', () => {
    expect(loadConfig({}).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8,::1' }).trustProxy).toEqual(['10.0.0.0/8', '::1']);
    for (const [value, message] of [
      ['on', /^TRUST_PROXY no longer accepts "on" \(it trusted every hop/],
      ['true', /^TRUST_PROXY no longer accepts "on"/],
      ['10.0.0.0/33', /^TRUST_PROXY must be "off", a number of proxy hops/],
      ['ingress', /^TRUST_PROXY must be "off", a number of proxy hops/],
    ] as const) {
      const error = (() => {
        try {
          loadConfig({ TRUST_PROXY: value });
        } catch (caught) {
          return caught;
        }
        return undefined;
      })();
      expect(error, value).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems[0], value).toMatch(message);
    }
  });
});
