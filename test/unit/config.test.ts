import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ConfigError, configVariables, loadConfig } from '../../src/config.js';
import { CONFIG_DOC, envExample, TABLE_END, TABLE_START, withConfigTable } from '../../tools/config-docs.js';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 8088,
      host: '0.0.0.0',
      logLevel: 'info',
      mongodb: { uri: undefined, dbName: 'order_generation', timeoutMs: 10000 },
      upstreams: {
        urls: {
          accounting: 'http://globeco-portfolio-accounting-service:8087',
          security: 'http://globeco-security-service:8000',
          pricing: 'http://globeco-pricing-service:8083',
          portfolio: 'http://globeco-portfolio-service:8000',
          order: 'http://globeco-order-service:8081',
        },
        timeoutMs: 10_000,
        attempts: 3,
        backoffMs: 1000,
        circuitFailureThreshold: 5,
        circuitResetMs: 60_000,
        securityCacheTtlMs: 600_000,
        priceCacheTtlMs: 60_000,
        cacheMaxEntries: 50_000,
      },
      optimizationTimeoutMs: 30_000,
      rebalanceConcurrency: 16,
      schedule: { cron: undefined, timeZone: 'UTC' },
      orders: { submission: false, blotterId: 1 },
      apiKeys: [],
      rateLimit: { max: undefined, windowMs: 60_000 },
      corsOrigins: ['*'],
      shutdownGraceMs: 10_000,
    });
  });

  it('reads values and trims trailing slashes from URLs', () => {
    const config = loadConfig({
      PORT: '9000',
      MONGODB_URI: 'mongodb://db:27017/?replicaSet=rs0',
      PRICING_SERVICE_URL: 'http://pricing:8083/',
      ORDER_SUBMISSION: 'on',
      REBALANCE_SCHEDULE: '0 6 * * 1-5',
      API_KEYS: 'aaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbb',
      CORS_ORIGINS: 'https://a.example,https://b.example',
    });
    expect(config.port).toBe(9000);
    expect(config.mongodb.uri).toBe('mongodb://db:27017/?replicaSet=rs0');
    expect(config.upstreams.urls.pricing).toBe('http://pricing:8083');
    expect(config.orders.submission).toBe(true);
    expect(config.schedule.cron).toBe('0 6 * * 1-5');
    expect(config.apiKeys).toEqual(['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb']);
    expect(config.corsOrigins).toEqual(['https://a.example', 'https://b.example']);
  });

  it.each([
    ['PORT', 'eighty', /^PORT must be a whole number between 0 and 65535 \(got "eighty"\)$/],
    ['PORT', '70000', /^PORT must be a whole number between 0 and 65535/],
    ['MONGODB_URI', 'postgres://x', /^MONGODB_URI must be a mongodb:\/\/ or mongodb\+srv:\/\/ connection string/],
    ['SECURITY_SERVICE_URL', 'not a url', /^SECURITY_SERVICE_URL must be an http:\/\/ or https:\/\/ URL/],
    ['REBALANCE_SCHEDULE', 'every day', /^REBALANCE_SCHEDULE must be a valid cron expression/],
    ['REBALANCE_SCHEDULE_TZ', 'Mars/Olympus', /^REBALANCE_SCHEDULE_TZ must be an IANA time zone/],
    ['ORDER_SUBMISSION', 'yes', /^ORDER_SUBMISSION must be "on" or "off"/],
    ['LOG_LEVEL', 'loud', /^LOG_LEVEL must be one of/],
    ['API_KEYS', 'short', /^API_KEYS each key must be at least 16 characters/],
  ])('stops on a bad %s, naming it', (name, value, message) => {
    try {
      loadConfig({ [name]: value });
      expect.unreachable('loadConfig accepted a bad value');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toHaveLength(1);
      expect((error as ConfigError).problems[0]).toMatch(message);
    }
  });

  it('reports every bad variable at once', () => {
    expect(() => loadConfig({ PORT: 'x', UPSTREAM_RETRIES: '0' })).toThrow(/PORT[\s\S]*UPSTREAM_RETRIES/);
  });

  it('documents every variable with a description', () => {
    for (const [name, spec] of Object.entries(configVariables)) {
      expect(spec.description.length, name).toBeGreaterThan(5);
    }
  });
});

describe("the Python service's variable names", () => {
  it.each([
    ['INFO', 'info'],
    ['WARNING', 'warn'],
    ['CRITICAL', 'fatal'],
    ['Debug', 'debug'],
  ])('reads LOG_LEVEL=%s as %s', (value, level) => {
    expect(loadConfig({ LOG_LEVEL: value }).logLevel).toBe(level);
  });

  it('reads DATABASE_URL and DATABASE_NAME as MONGODB_URI and MONGODB_DB when those are unset, with a warning each', () => {
    const config = loadConfig({ DATABASE_URL: 'mongodb://globeco-order-generation-service-mongodb:27017', DATABASE_NAME: 'prod' });
    expect(config.mongodb).toMatchObject({ uri: 'mongodb://globeco-order-generation-service-mongodb:27017', dbName: 'prod' });
    expect(config.warnings).toEqual([
      'DATABASE_URL is deprecated: rename it MONGODB_URI (read as MONGODB_URI because MONGODB_URI is unset)',
      'DATABASE_NAME is deprecated: rename it MONGODB_DB (read as MONGODB_DB because MONGODB_DB is unset)',
    ]);
  });

  it('prefers the new names, and says the old ones are ignored', () => {
    const config = loadConfig({ MONGODB_URI: 'mongodb://new:27017', DATABASE_URL: 'mongodb://old:27017', DATABASE_NAME: 'prod' });
    expect(config.mongodb).toMatchObject({ uri: 'mongodb://new:27017', dbName: 'prod' });
    expect(config.warnings[0]).toBe('DATABASE_URL is deprecated and ignored: MONGODB_URI is set');
    expect(loadConfig({}).warnings).toEqual([]);
  });

  it('names the variable actually set when its value is invalid, without echoing a connection string', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://user:secret@x' })).toThrow(
      /DATABASE_URL \(read as MONGODB_URI\) must be a mongodb:\/\/ .*\(value not shown\)/,
    );
  });
});

describe('the configuration documents', () => {
  const read = (name: string) => readFile(new URL(`../../${name}`, import.meta.url), 'utf8');

  it('.env.example lists every variable with its default, and nothing else (npm run docs:config)', async () => {
    const text = await read('.env.example');
    expect(text).toBe(envExample());
    const listed = new Map<string, string>();
    for (const line of text.split('\n')) {
      const match = /^#?\s?([A-Z][A-Z0-9_]+)=(.*)$/.exec(line);
      if (match) listed.set(match[1]!, match[2]!);
    }
    expect(listed).toEqual(new Map(Object.entries(configVariables).map(([name, v]) => [name, v.default ?? ''])));
  });

  it("docs/configuration.md's table is the declarations', row for row (npm run docs:config)", async () => {
    const readme = await read(CONFIG_DOC);
    expect(readme).toBe(withConfigTable(readme));
    const rows = readme
      .slice(readme.indexOf(TABLE_START), readme.indexOf(TABLE_END))
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .map((line) => /^\| `([A-Z0-9_]+)` \| (unset|`[^`]*`) \|/.exec(line)!.slice(1));
    expect(rows).toEqual(
      Object.entries(configVariables).map(([name, v]) => [name, v.default === undefined ? 'unset' : `\`${v.default}\``]),
    );
  });
});
