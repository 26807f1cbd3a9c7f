// The service's configuration: one zod schema per environment variable, parsed
// once at start-up. This is the only module that reads process.env.
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import cron from 'node-cron';
import { z } from 'zod';

const integer = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `must be a whole number between ${min} and ${max}`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be a whole number between ${min} and ${max}`);

const httpUrl = z
  .string()
  .trim()
  .refine((value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an http:// or https:// URL')
  .transform((value) => value.replace(/\/+$/, ''));

const mongoUri = z
  .string()
  .trim()
  .regex(/^mongodb(\+srv)?:\/\/\S+$/, 'must be a mongodb:// or mongodb+srv:// connection string');

const onOff = z.enum(['on', 'off'], { error: 'must be "on" or "off"' }).transform((v) => v === 'on');

const cronExpression = z
  .string()
  .trim()
  .refine((expr) => cron.validate(expr), 'must be a valid cron expression (5 or 6 fields)');

const timeZone = z
  .string()
  .trim()
  .refine((tz) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  }, 'must be an IANA time zone such as UTC or Europe/London');

const commaList = (item: z.ZodString, what: string) =>
  z
    .string()
    .transform((value) =>
      value
        .split(',')
        .map((part) => part.trim())
        .filter((part) => part.length > 0),
    )
    .pipe(z.array(item, { error: `must be a comma-separated list of ${what}` }));

/**
 * Which proxies' x-forwarded-for entries are believed. Never every hop: the
 * left-most entry is whatever the client wrote, so trusting all of them lets a
 * client pick its own address (and its own rate-limit budget).
 */
const trustProxy = z
  .string()
  .trim()
  .transform((value, ctx): false | number | string[] => {
    const lower = value.toLowerCase();
    if (lower === 'off' || lower === 'false' || lower === '0') return false;
    if (lower === 'on' || lower === 'true') {
      ctx.issues.push({
        code: 'custom',
        input: value,
        message: 'no longer accepts "on" (it trusted every hop, so a client could choose its own address): give the number of proxies in front of the service (e.g. 1) or their addresses',
      });
      return z.NEVER;
    }
    if (/^\d+$/.test(value)) {
      const hops = Number(value);
      if (hops <= 100) return hops;
    } else {
      const items = value.split(',').map((part) => part.trim()).filter((part) => part.length > 0);
      if (items.length > 0 && items.every(isAddressOrCidr)) return items;
    }
    ctx.issues.push({
      code: 'custom',
      input: value,
      message: 'must be "off", a number of proxy hops from 1 to 100, or comma-separated proxy addresses or CIDRs (e.g. 10.0.0.0/8)',
    });
    return z.NEVER;
  });

function isAddressOrCidr(item: string): boolean {
  const [address = '', bits, extra] = item.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

interface Variable {
  /** Default as it would be written in the environment; undefined means unset. */
  readonly default: string | undefined;
  readonly description: string;
  readonly schema: z.ZodType;
  /** Never echoed in an error message (keys, credentials in a connection string). */
  readonly secret?: boolean;
}

const variable = <S extends z.ZodType>(schema: S, defaultValue: string | undefined, description: string) =>
  ({ schema, default: defaultValue, description }) satisfies Variable;
const secret = <V extends Variable>(v: V) => ({ ...v, secret: true }) satisfies Variable;

/** Every environment variable the service reads, with its default and meaning. */
export const configVariables = {
  PORT: variable(integer(0, 65535), '8088', 'HTTP listen port'),
  HOST: variable(z.string().trim().min(1, 'must not be empty'), '0.0.0.0', 'HTTP listen address'),
  LOG_LEVEL: variable(
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: 'must be one of fatal, error, warn, info, debug, trace, silent',
    }),
    'info',
    'pino log level',
  ),
  MONGODB_URI: secret(
    variable(mongoUri, undefined, 'MongoDB connection string; unset starts an embedded development database (never in production)'),
  ),
  MONGODB_DB: variable(
    z.string().trim().regex(/^[A-Za-z0-9_-]{1,63}$/, 'must be 1-63 letters, digits, "_" or "-"'),
    'order_generation',
    'MongoDB database name',
  ),
  MONGODB_TIMEOUT_MS: variable(
    integer(100, 600_000),
    '10000',
    'how long a database operation waits for a reachable MongoDB server before the request fails with 503',
  ),
  PORTFOLIO_ACCOUNTING_SERVICE_URL: variable(
    httpUrl,
    'http://globeco-portfolio-accounting-service:8087',
    'Portfolio Accounting service (holdings and cash)',
  ),
  SECURITY_SERVICE_URL: variable(httpUrl, 'http://globeco-security-service:8000', 'Security service (tickers)'),
  PRICING_SERVICE_URL: variable(httpUrl, 'http://globeco-pricing-service:8083', 'Pricing service (prices)'),
  PORTFOLIO_SERVICE_URL: variable(
    httpUrl,
    'http://globeco-portfolio-service:8000',
    'Portfolio service (portfolio names, optional)',
  ),
  ORDER_SERVICE_URL: variable(httpUrl, 'http://globeco-order-service:8081', 'Order service (order submission)'),
  UPSTREAM_TIMEOUT_MS: variable(integer(1, 600_000), '10000', 'per-attempt timeout of an upstream call'),
  UPSTREAM_RETRIES: variable(integer(1, 20), '3', 'attempts in all for one upstream call (1 = no retry)'),
  UPSTREAM_BACKOFF_MS: variable(integer(0, 600_000), '1000', 'base of the exponential backoff between attempts'),
  UPSTREAM_MAX_IN_FLIGHT: variable(integer(1, 10_000), '64', 'bulkhead: concurrent calls per upstream service'),
  CIRCUIT_FAILURE_THRESHOLD: variable(
    integer(1, 1000),
    '5',
    'consecutive non-4xx failures that open a service circuit',
  ),
  CIRCUIT_RESET_MS: variable(integer(1, 3_600_000), '60000', 'how long an open circuit waits before a probe'),
  SECURITY_CACHE_TTL_MS: variable(integer(0, 86_400_000), '600000', 'ticker cache time-to-live'),
  PRICE_CACHE_TTL_MS: variable(integer(0, 86_400_000), '60000', 'price cache time-to-live'),
  CACHE_MAX_ENTRIES: variable(integer(1, 10_000_000), '50000', 'entries per cache'),
  QUOTE_BULK_THRESHOLD: variable(
    integer(0, 1_000_000),
    '10',
    'a rebalance needing more uncached tickers (or prices) than this reads them all with GET /securities (/prices) instead of one call each',
  ),
  OPTIMIZATION_TIMEOUT_MS: variable(
    integer(1, 3_600_000),
    '30000',
    'solver budget per portfolio; past it the portfolio is infeasible',
  ),
  REBALANCE_CONCURRENCY: variable(integer(1, 1000), '16', 'portfolios in flight at once in a model rebalance'),
  REBALANCE_SCHEDULE: variable(cronExpression, undefined, 'cron expression for scheduled rebalance cycles (unset = off)'),
  REBALANCE_SCHEDULE_TZ: variable(timeZone, 'UTC', 'time zone of the schedule'),
  CYCLE_LEASE_TTL_MS: variable(
    integer(500, 3_600_000),
    '60000',
    'how long a replica holds the cycle lease without renewing it (renewed every third of it)',
  ),
  CLOCK_SKEW_MS: variable(
    integer(0, 600_000),
    '5000',
    'clock difference between replicas tolerated: a lease is taken over only this long after it expired',
  ),
  REPLICA_ID: variable(z.string().trim().min(1).max(100), undefined, 'name of this replica in cycle records (default: host name and pid)'),
  ORDER_SUBMISSION: variable(onOff, 'off', '"on": completed cycles (and ?submit=true rebalance calls) submit their orders to the Order service'),
  ORDER_BLOTTER_ID: variable(integer(0, 2_147_483_647), '1', 'blotter id of submitted orders (checked once against the Order service\'s /blotters)'),
  ORDER_SUBMIT_TIMEOUT_MS: variable(
    integer(1, 3_600_000),
    '120000',
    'timeout of one POST /orders (the Order service is slow by design; not UPSTREAM_TIMEOUT_MS)',
  ),
  ORDER_BATCH_SIZE: variable(integer(1, 1000), '250', 'orders per POST /orders (the Order service takes at most 1000)'),
  API_KEYS: secret(
    variable(
      commaList(z.string().min(16, 'each key must be at least 16 characters'), 'keys of at least 16 characters'),
      undefined,
      'comma-separated API keys; when set, every /api/v1 write needs "authorization: Bearer <key>"',
    ),
  ),
  RATE_LIMIT_MAX: variable(
    integer(1, 1_000_000),
    undefined,
    'requests per caller per window on /api/v1 (per API key when a valid one is sent, else per client address; wrong keys count); unset = no limit',
  ),
  RATE_LIMIT_WINDOW_MS: variable(integer(1, 86_400_000), '60000', 'rate-limit window'),
  CORS_ORIGINS: variable(
    commaList(z.string(), 'origins'),
    '*',
    'allowed CORS origins, comma-separated ("*" allows all)',
  ),
  TRUST_PROXY: variable(
    trustProxy,
    'off',
    'proxies whose x-forwarded-for is believed (client address for rate limits and logs): "off", a hop count (1 for one ingress), or proxy addresses/CIDRs, comma-separated',
  ),
  BODY_LIMIT_BYTES: variable(integer(1024, 100 * 1024 * 1024), '1048576', 'largest accepted request body'),
  REQUEST_TIMEOUT_MS: variable(integer(0, 600_000), '30000', 'time a client has to send a whole request, headers and body (0 = no limit)'),
  MAX_EVENT_LOOP_DELAY_MS: variable(integer(0, 60_000), '1000', 'back-pressure: mean event-loop delay above which /api/v1 answers 503 OVERLOADED (0 = off)'),
  MAX_HEAP_USED_MB: variable(integer(0, 1_048_576), undefined, 'back-pressure: heap used above which /api/v1 answers 503 OVERLOADED (unset: 90% of the heap limit; 0 = off)'),
  SHUTDOWN_GRACE_MS: variable(integer(0, 600_000), '10000', 'time to finish in-flight work on SIGTERM'),
  SWEEP_INTERVAL_MS: variable(
    integer(0, 86_400_000),
    '900000',
    'how often one replica sweeps what failed rebalances left behind (it also sweeps at start-up; 0 = at start-up only)',
  ),
  SWEEP_MIN_AGE_MS: variable(
    integer(0, 604_800_000),
    '3600000',
    'age past which portfolio documents of a never-published rebalance, and spool files of no live request, are removed; keep it well above the longest rebalance (10 000 portfolios took under 2 minutes)',
  ),
  REPAIR_INTERVAL_MS: variable(
    integer(1000, 3_600_000),
    '30000',
    'how often each replica retries what it could not do at once: a unique index that duplicate values kept from being created, the clean-up of a failed rebalance the database did not take',
  ),
  SPOOL_DIR: variable(z.string().trim().min(1, 'must not be empty'), undefined, 'directory of the temporary files that model rebalance answers are spooled to (default: the system temporary directory)'),
} as const;

export type ConfigVariableName = keyof typeof configVariables;

type Parsed<K extends ConfigVariableName> = z.output<(typeof configVariables)[K]['schema']>;

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly logLevel: Parsed<'LOG_LEVEL'>;
  readonly mongodb: { readonly uri: string | undefined; readonly dbName: string; readonly timeoutMs: number };
  readonly upstreams: {
    readonly urls: {
      readonly accounting: string;
      readonly security: string;
      readonly pricing: string;
      readonly portfolio: string;
      readonly order: string;
    };
    readonly timeoutMs: number;
    readonly attempts: number;
    readonly backoffMs: number;
    readonly maxInFlight: number;
    readonly circuitFailureThreshold: number;
    readonly circuitResetMs: number;
    readonly securityCacheTtlMs: number;
    readonly priceCacheTtlMs: number;
    readonly cacheMaxEntries: number;
    readonly bulkThreshold: number;
  };
  readonly optimizationTimeoutMs: number;
  readonly rebalanceConcurrency: number;
  readonly schedule: {
    readonly cron: string | undefined;
    readonly timeZone: string;
    readonly leaseTtlMs: number;
    readonly clockSkewMs: number;
    readonly replicaId: string;
  };
  readonly orders: { readonly submission: boolean; readonly blotterId: number; readonly submitTimeoutMs: number; readonly batchSize: number };
  readonly apiKeys: readonly string[];
  /** max undefined: no rate limit. */
  readonly rateLimit: { readonly max: number | undefined; readonly windowMs: number };
  readonly corsOrigins: readonly string[];
  /** false, a hop count, or the proxies' addresses/CIDRs (never true: see trustProxy). */
  readonly trustProxy: false | number | readonly string[];
  readonly bodyLimitBytes: number;
  readonly requestTimeoutMs: number;
  /** Back-pressure limits; 0 turns one off. Heap undefined: 90% of the heap limit. */
  readonly overload: { readonly maxEventLoopDelayMs: number; readonly maxHeapUsedMb: number | undefined };
  readonly shutdownGraceMs: number;
  readonly maintenance: {
    readonly sweepIntervalMs: number;
    readonly sweepMinAgeMs: number;
    readonly repairIntervalMs: number;
    readonly spoolDir: string | undefined;
  };
  /** Said once at start-up (deprecated variable names in use). */
  readonly warnings: readonly string[];
}

/**
 * The Python service's names for the database variables (its Deployment sets
 * them), read only when the new name is unset, with a warning in `warnings`.
 */
export const DEPRECATED_ALIASES = { DATABASE_URL: 'MONGODB_URI', DATABASE_NAME: 'MONGODB_DB' } as const satisfies Record<string, ConfigVariableName>;

function withDeprecatedAliases(env: Environment): { env: Environment; warnings: string[]; aliasOf: Map<string, string> } {
  const set = (value: string | undefined) => value !== undefined && value.trim() !== '';
  const effective: Record<string, string | undefined> = { ...env };
  const warnings: string[] = [];
  const aliasOf = new Map<string, string>();
  for (const [old, current] of Object.entries(DEPRECATED_ALIASES)) {
    if (!set(env[old])) continue;
    if (set(env[current])) {
      warnings.push(`${old} is deprecated and ignored: ${current} is set`);
      continue;
    }
    effective[current] = env[old];
    aliasOf.set(current, old);
    warnings.push(`${old} is deprecated: rename it ${current} (read as ${current} because ${current} is unset)`);
  }
  return { env: effective, warnings, aliasOf };
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

type Environment = Readonly<Record<string, string | undefined>>;

/**
 * Parses the environment (process.env unless given) into a Config. Every bad
 * variable is reported at once, each message naming the variable.
 */
export function loadConfig(source: Environment = process.env): Config {
  const { env, warnings, aliasOf } = withDeprecatedAliases(source);
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, spec] of Object.entries(configVariables) as [ConfigVariableName, Variable][]) {
    const raw = env[name];
    const given = raw !== undefined && raw.trim() !== '' ? raw : spec.default;
    if (given === undefined) {
      values[name] = undefined;
      continue;
    }
    const result = spec.schema.safeParse(given);
    if (result.success) {
      values[name] = result.data;
    } else {
      const reason = result.error.issues[0]?.message ?? 'is invalid';
      problems.push(`${aliasOf.has(name) ? `${aliasOf.get(name)} (read as ${name})` : name} ${reason} (${spec.secret === true ? 'value not shown' : `got ${JSON.stringify(given)}`})`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const v = values as { [K in ConfigVariableName]: Parsed<K> };
  return {
    port: v.PORT,
    host: v.HOST,
    logLevel: v.LOG_LEVEL,
    mongodb: { uri: v.MONGODB_URI, dbName: v.MONGODB_DB, timeoutMs: v.MONGODB_TIMEOUT_MS },
    upstreams: {
      urls: {
        accounting: v.PORTFOLIO_ACCOUNTING_SERVICE_URL,
        security: v.SECURITY_SERVICE_URL,
        pricing: v.PRICING_SERVICE_URL,
        portfolio: v.PORTFOLIO_SERVICE_URL,
        order: v.ORDER_SERVICE_URL,
      },
      timeoutMs: v.UPSTREAM_TIMEOUT_MS,
      attempts: v.UPSTREAM_RETRIES,
      backoffMs: v.UPSTREAM_BACKOFF_MS,
      maxInFlight: v.UPSTREAM_MAX_IN_FLIGHT,
      circuitFailureThreshold: v.CIRCUIT_FAILURE_THRESHOLD,
      circuitResetMs: v.CIRCUIT_RESET_MS,
      securityCacheTtlMs: v.SECURITY_CACHE_TTL_MS,
      priceCacheTtlMs: v.PRICE_CACHE_TTL_MS,
      cacheMaxEntries: v.CACHE_MAX_ENTRIES,
      bulkThreshold: v.QUOTE_BULK_THRESHOLD,
    },
    optimizationTimeoutMs: v.OPTIMIZATION_TIMEOUT_MS,
    rebalanceConcurrency: v.REBALANCE_CONCURRENCY,
    schedule: {
      cron: v.REBALANCE_SCHEDULE,
      timeZone: v.REBALANCE_SCHEDULE_TZ,
      leaseTtlMs: v.CYCLE_LEASE_TTL_MS,
      clockSkewMs: v.CLOCK_SKEW_MS,
      replicaId: v.REPLICA_ID ?? `${hostname()}-${process.pid}`,
    },
    orders: {
      submission: v.ORDER_SUBMISSION,
      blotterId: v.ORDER_BLOTTER_ID,
      submitTimeoutMs: v.ORDER_SUBMIT_TIMEOUT_MS,
      batchSize: v.ORDER_BATCH_SIZE,
    },
    apiKeys: v.API_KEYS ?? [],
    rateLimit: { max: v.RATE_LIMIT_MAX, windowMs: v.RATE_LIMIT_WINDOW_MS },
    corsOrigins: v.CORS_ORIGINS,
    trustProxy: v.TRUST_PROXY,
    bodyLimitBytes: v.BODY_LIMIT_BYTES,
    requestTimeoutMs: v.REQUEST_TIMEOUT_MS,
    overload: { maxEventLoopDelayMs: v.MAX_EVENT_LOOP_DELAY_MS, maxHeapUsedMb: v.MAX_HEAP_USED_MB },
    shutdownGraceMs: v.SHUTDOWN_GRACE_MS,
    maintenance: {
      sweepIntervalMs: v.SWEEP_INTERVAL_MS,
      sweepMinAgeMs: v.SWEEP_MIN_AGE_MS,
      repairIntervalMs: v.REPAIR_INTERVAL_MS,
      spoolDir: v.SPOOL_DIR,
    },
    warnings,
  };
}

/** Reads a `.env` file into process.env (without overriding what is set), outside production. */
export function loadDotEnv(path = '.env'): void {
  if (process.env.NODE_ENV === 'production' || !existsSync(path)) return;
  process.loadEnvFile(path);
}
