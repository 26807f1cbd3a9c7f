// The service's configuration: each environment variable declared once (name,
// type, default, meaning), parsed once at start-up. This is the only module that reads process.env.
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import cron from 'node-cron';
import { z } from 'zod';

const httpUrl = z
  .url({ protocol: /^(http|https)$/, error: 'must be an http:// or https:// URL' })
  .transform((value) => value.replace(/\/+$/, ''));

const mongoUri = z
  .string()
  .trim()
  .regex(/^mongodb(\+srv)?:\/\/\S+$/, 'must be a mongodb:// or mongodb+srv:// connection string');

const pythonLogLevels: Record<string, string> = { warning: 'warn', critical: 'fatal' };

// Any case, and the Python service's names (INFO, WARNING, CRITICAL), so its ConfigMap carries over.
const logLevel = z.preprocess(
  (value) => (typeof value === 'string' ? (pythonLogLevels[value.trim().toLowerCase()] ?? value.trim().toLowerCase()) : value),
  z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
    error: 'must be one of fatal, error, warn, info, debug, trace, silent (any case; WARNING and CRITICAL also read)',
  }),
);

const telemetryExporter = z.enum(['otlp', 'console', 'none'], { error: 'must be otlp, console or none' });

const otlpProtocol = z.enum(['http/protobuf', 'http/json', 'grpc'], { error: 'must be http/protobuf, http/json or grpc' });

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

const listItems = (value: string) =>
  value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0);

const commaList = (item: z.ZodString, what: string) =>
  z
    .string()
    .transform(listItems)
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
        message:
          'no longer accepts "on" (it trusted every hop, so a client could choose its own address): give the number of proxies in front of the service (e.g. 1) or their addresses',
      });
      return z.NEVER;
    }
    if (/^\d+$/.test(value)) {
      const hops = Number(value);
      if (hops <= 100) return hops;
    } else {
      const items = listItems(value);
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

const whole = (min: number, max: number) => `must be a whole number between ${min} and ${max}`;

/** Digits only (no sign, exponent, hex or fraction), then a number within bounds. */
const integer = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, whole(min, max))
    .pipe(z.coerce.number<string>().min(min, whole(min, max)).max(max, whole(min, max)));

const onOff = z.stringbool({ truthy: ['on'], falsy: ['off'], case: 'sensitive', error: 'must be "on" or "off"' });

/** One environment variable: its name, type (a zod schema from the raw text), default and meaning. */
export interface ConfigVariable<Name extends string = string, Value = unknown> {
  readonly name: Name;
  readonly schema: z.ZodType;
  /** Default as it would be written in the environment; undefined means unset. */
  readonly default: string | undefined;
  readonly description: string;
  /** Never echoed in an error message (keys, credentials in a connection string). */
  readonly secret: boolean;
  /** The value when unset and without a default (undefined if not given). */
  readonly unset: (() => Value) | undefined;
}

/**
 * Declares a variable: its name, type, default as it would be written in the
 * environment (undefined: unset) and meaning; `more` marks a secret or gives
 * the value when unset without a default. The value's type is the schema's
 * output, `| undefined` when there is neither a default nor an `unset` fallback.
 */
function variable<const Name extends string, S extends z.ZodType, D extends string | undefined = undefined, F = undefined>(
  name: Name,
  type: S,
  defaultValue: D,
  description: string,
  more: { secret?: boolean; unset?: () => F } = {},
): ConfigVariable<Name, D extends string ? z.output<S> : z.output<S> | F> {
  return { name, schema: type, default: defaultValue, description, secret: more.secret ?? false, unset: more.unset } as ConfigVariable<
    Name,
    D extends string ? z.output<S> : z.output<S> | F
  >;
}

/**
 * Every environment variable the service reads, in the shape of the Config
 * that loadConfig returns, each declared once; the order is the order of
 * .env.example and the configuration table (npm run docs:config).
 */
const settings = {
  port: variable('PORT', integer(0, 65535), '8088', 'HTTP listen port'),
  host: variable('HOST', z.string().trim().min(1, 'must not be empty'), '0.0.0.0', 'HTTP listen address'),
  logLevel: variable(
    'LOG_LEVEL',
    logLevel,
    'info',
    "pino log level, in any case; the Python service's WARNING and CRITICAL read as warn and fatal",
  ),
  mongodb: {
    uri: variable(
      'MONGODB_URI',
      mongoUri,
      undefined,
      'MongoDB connection string; unset starts an embedded development database (never in production)',
      { secret: true },
    ),
    dbName: variable(
      'MONGODB_DB',
      z
        .string()
        .trim()
        .regex(/^[A-Za-z0-9_-]{1,63}$/, 'must be 1-63 letters, digits, "_" or "-"'),
      'order_generation',
      'MongoDB database name',
    ),
    timeoutMs: variable(
      'MONGODB_TIMEOUT_MS',
      integer(100, 600_000),
      '10000',
      'how long a database operation waits for a reachable MongoDB server before the request fails with 503',
    ),
  },
  upstreams: {
    urls: {
      accounting: variable(
        'PORTFOLIO_ACCOUNTING_SERVICE_URL',
        httpUrl,
        'http://globeco-portfolio-accounting-service:8087',
        'Portfolio Accounting service (holdings and cash)',
      ),
      security: variable('SECURITY_SERVICE_URL', httpUrl, 'http://globeco-security-service:8000', 'Security service (tickers)'),
      pricing: variable('PRICING_SERVICE_URL', httpUrl, 'http://globeco-pricing-service:8083', 'Pricing service (prices)'),
      portfolio: variable(
        'PORTFOLIO_SERVICE_URL',
        httpUrl,
        'http://globeco-portfolio-service:8000',
        'Portfolio service (portfolio names, optional)',
      ),
      order: variable('ORDER_SERVICE_URL', httpUrl, 'http://globeco-order-service:8081', 'Order service (order submission)'),
    },
    timeoutMs: variable('UPSTREAM_TIMEOUT_MS', integer(1, 600_000), '10000', 'per-attempt timeout of an upstream call'),
    attempts: variable('UPSTREAM_RETRIES', integer(1, 20), '3', 'attempts in all for one upstream call (1 = no retry)'),
    backoffMs: variable('UPSTREAM_BACKOFF_MS', integer(0, 600_000), '1000', 'base of the exponential backoff between attempts'),
    maxInFlight: variable('UPSTREAM_MAX_IN_FLIGHT', integer(1, 10_000), '64', 'bulkhead: concurrent calls per upstream service'),
    circuitFailureThreshold: variable(
      'CIRCUIT_FAILURE_THRESHOLD',
      integer(1, 1000),
      '5',
      'consecutive non-4xx failures that open a service circuit',
    ),
    circuitResetMs: variable('CIRCUIT_RESET_MS', integer(1, 3_600_000), '60000', 'how long an open circuit waits before a probe'),
    securityCacheTtlMs: variable('SECURITY_CACHE_TTL_MS', integer(0, 86_400_000), '600000', 'ticker cache time-to-live'),
    priceCacheTtlMs: variable('PRICE_CACHE_TTL_MS', integer(0, 86_400_000), '60000', 'price cache time-to-live'),
    cacheMaxEntries: variable('CACHE_MAX_ENTRIES', integer(1, 10_000_000), '50000', 'entries per cache'),
    bulkThreshold: variable(
      'QUOTE_BULK_THRESHOLD',
      integer(0, 1_000_000),
      '10',
      'a rebalance needing more uncached tickers (or prices) than this reads them all with GET /securities (/prices) instead of one call each',
    ),
  },
  optimizationTimeoutMs: variable(
    'OPTIMIZATION_TIMEOUT_MS',
    integer(1, 3_600_000),
    '30000',
    'solver budget per portfolio; past it the portfolio is infeasible',
  ),
  rebalanceConcurrency: variable('REBALANCE_CONCURRENCY', integer(1, 1000), '16', 'portfolios in flight at once in a model rebalance'),
  /** Asynchronous rebalances (docs/async-rebalances.md) and progress reports. */
  jobs: {
    heartbeatMs: variable(
      'REBALANCE_JOB_HEARTBEAT_MS',
      integer(100, 600_000),
      '5000',
      'how often a replica records the progress of its asynchronous rebalances (and sees cancellations asked of another replica)',
    ),
    staleMs: variable(
      'REBALANCE_JOB_STALE_MS',
      integer(1000, 86_400_000),
      '60000',
      'a running asynchronous rebalance whose progress was not recorded for this long is marked abandoned (its process died)',
    ),
    dryRunTtlMs: variable(
      'REBALANCE_DRY_RUN_TTL_MS',
      integer(1000, 604_800_000),
      '3600000',
      'how long the result of an asynchronous dry run is kept after it completes',
    ),
    progressLogMs: variable(
      'REBALANCE_PROGRESS_LOG_MS',
      integer(0, 3_600_000),
      '5000',
      'a progress log line per running model rebalance this often (done/total, rate, time left; 0 = none)',
    ),
  },
  schedule: {
    cron: variable('REBALANCE_SCHEDULE', cronExpression, undefined, 'cron expression for scheduled rebalance cycles (unset = off)'),
    timeZone: variable('REBALANCE_SCHEDULE_TZ', timeZone, 'UTC', 'time zone of the schedule'),
    trigger: variable(
      'REBALANCE_TRIGGER',
      z.enum(['calendar', 'threshold'], { error: 'must be calendar or threshold' }),
      'calendar',
      'scheduled cycles: "calendar" trades every portfolio; "threshold" only those with a security outside its band',
    ),
    leaseTtlMs: variable(
      'CYCLE_LEASE_TTL_MS',
      integer(500, 3_600_000),
      '60000',
      'how long a replica holds the cycle lease without renewing it (renewed every third of it)',
    ),
    clockSkewMs: variable(
      'CLOCK_SKEW_MS',
      integer(0, 600_000),
      '5000',
      'clock difference between replicas tolerated: a lease is taken over only this long after it expired',
    ),
    replicaId: variable(
      'REPLICA_ID',
      z.string().trim().min(1).max(100),
      undefined,
      'name of this replica in cycle records (default: host name and pid)',
      { unset: () => `${hostname()}-${process.pid}` },
    ),
  },
  orders: {
    submission: variable(
      'ORDER_SUBMISSION',
      onOff,
      'off',
      '"on": completed cycles (and ?submit=true rebalance calls) submit their orders to the Order service',
    ),
    blotterId: variable(
      'ORDER_BLOTTER_ID',
      integer(0, 2_147_483_647),
      '1',
      "blotter id of submitted orders (checked once against the Order service's /blotters)",
    ),
    submitTimeoutMs: variable(
      'ORDER_SUBMIT_TIMEOUT_MS',
      integer(1, 3_600_000),
      '120000',
      'timeout of one POST /orders (the Order service is slow by design; not UPSTREAM_TIMEOUT_MS)',
    ),
    batchSize: variable('ORDER_BATCH_SIZE', integer(1, 1000), '250', 'orders per POST /orders (the Order service takes at most 1000)'),
  },
  apiKeys: variable(
    'API_KEYS',
    commaList(z.string().min(16, 'each key must be at least 16 characters'), 'keys of at least 16 characters'),
    undefined,
    'comma-separated API keys; when set, every /api/v1 write needs "authorization: Bearer <key>"',
    { secret: true, unset: (): string[] => [] },
  ),
  /** max undefined: no rate limit. */
  rateLimit: {
    max: variable(
      'RATE_LIMIT_MAX',
      integer(1, 1_000_000),
      undefined,
      'requests per caller per window on /api/v1 (per API key when a valid one is sent, else per client address; wrong keys count); unset = no limit',
    ),
    windowMs: variable('RATE_LIMIT_WINDOW_MS', integer(1, 86_400_000), '60000', 'rate-limit window'),
  },
  corsOrigins: variable('CORS_ORIGINS', commaList(z.string(), 'origins'), '*', 'allowed CORS origins, comma-separated ("*" allows all)'),
  /** false, a hop count, or the proxies' addresses/CIDRs (never true: see trustProxy). */
  trustProxy: variable(
    'TRUST_PROXY',
    trustProxy,
    'off',
    'proxies whose x-forwarded-for is believed (client address for rate limits and logs): "off", a hop count (1 for one ingress), or proxy addresses/CIDRs, comma-separated',
  ),
  bodyLimitBytes: variable('BODY_LIMIT_BYTES', integer(1024, 100 * 1024 * 1024), '1048576', 'largest accepted request body'),
  requestTimeoutMs: variable(
    'REQUEST_TIMEOUT_MS',
    integer(0, 600_000),
    '30000',
    'time a client has to send a whole request, headers and body (0 = no limit)',
  ),
  /** Back-pressure limits; 0 turns one off. Heap undefined: 90% of the heap limit. */
  overload: {
    maxEventLoopDelayMs: variable(
      'MAX_EVENT_LOOP_DELAY_MS',
      integer(0, 60_000),
      '1000',
      'back-pressure: mean event-loop delay above which /api/v1 answers 503 OVERLOADED (0 = off)',
    ),
    maxHeapUsedMb: variable(
      'MAX_HEAP_USED_MB',
      integer(0, 1_048_576),
      undefined,
      'back-pressure: heap used above which /api/v1 answers 503 OVERLOADED (unset: 90% of the heap limit; 0 = off)',
    ),
  },
  shutdownGraceMs: variable('SHUTDOWN_GRACE_MS', integer(0, 600_000), '10000', 'time to finish in-flight work on SIGTERM'),
  maintenance: {
    sweepIntervalMs: variable(
      'SWEEP_INTERVAL_MS',
      integer(0, 86_400_000),
      '900000',
      'how often one replica sweeps what failed rebalances left behind (it also sweeps at start-up; 0 = at start-up only)',
    ),
    sweepMinAgeMs: variable(
      'SWEEP_MIN_AGE_MS',
      integer(0, 604_800_000),
      '3600000',
      'age past which portfolio documents of a never-published rebalance, and spool files of no live request, are removed; keep it well above the longest rebalance (10 000 portfolios took under 2 minutes)',
    ),
    repairIntervalMs: variable(
      'REPAIR_INTERVAL_MS',
      integer(1000, 3_600_000),
      '30000',
      'how often each replica retries what it could not do at once: a unique index that duplicate values kept from being created, the clean-up of a failed rebalance the database did not take',
    ),
    spoolDir: variable(
      'SPOOL_DIR',
      z.string().trim().min(1, 'must not be empty'),
      undefined,
      'directory of the temporary files that model rebalance answers are spooled to (default: the system temporary directory)',
    ),
  },
  /** OpenTelemetry as the standard OTEL_* variables say it; `telemetry` below is what they decide (docs/telemetry.md). */
  otel: {
    sdkDisabled: variable(
      'OTEL_SDK_DISABLED',
      z.enum(['true', 'false'], { error: 'must be "true" or "false"' }),
      'false',
      'OpenTelemetry: "true" turns traces and OTLP metrics off whatever else is set',
    ),
    endpoint: variable(
      'OTEL_EXPORTER_OTLP_ENDPOINT',
      httpUrl,
      undefined,
      'OpenTelemetry collector (OTLP) base URL; unset (and no per-signal endpoint or exporter set) = no tracing, no SDK loaded (docs/telemetry.md lists the other OTEL_* variables, read by the SDK)',
    ),
    tracesEndpoint: variable(
      'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
      httpUrl,
      undefined,
      'OTLP URL for traces only (turns OpenTelemetry on like OTEL_EXPORTER_OTLP_ENDPOINT)',
    ),
    metricsEndpoint: variable(
      'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT',
      httpUrl,
      undefined,
      'OTLP URL for metrics only (turns OpenTelemetry on like OTEL_EXPORTER_OTLP_ENDPOINT)',
    ),
    tracesExporter: variable(
      'OTEL_TRACES_EXPORTER',
      telemetryExporter,
      undefined,
      'where spans go once OpenTelemetry is on: otlp (default), console or none',
    ),
    metricsExporter: variable(
      'OTEL_METRICS_EXPORTER',
      telemetryExporter,
      undefined,
      'where the /metrics figures also go once OpenTelemetry is on: otlp (default), console or none',
    ),
    protocol: variable('OTEL_EXPORTER_OTLP_PROTOCOL', otlpProtocol, 'http/protobuf', 'OTLP transport: http/protobuf, http/json or grpc'),
    metricsProtocol: variable(
      'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL',
      otlpProtocol,
      undefined,
      'OTLP transport for metrics only (default: OTEL_EXPORTER_OTLP_PROTOCOL)',
    ),
    metricIntervalMs: variable(
      'OTEL_METRIC_EXPORT_INTERVAL',
      integer(100, 86_400_000),
      '60000',
      'how often metrics are exported over OTLP, in milliseconds',
    ),
    portfolioSpans: variable(
      'TRACE_PORTFOLIO_SPANS',
      integer(0, 1_000_000),
      '100',
      'portfolios of one rebalance traced with a span of their own (and their upstream, database and solver spans); the others run untraced',
    ),
  },
};

type Tree = { readonly [key: string]: ConfigVariable | Tree };
type Frozen<T> = T extends readonly (infer U)[] ? readonly U[] : T extends object ? { readonly [K in keyof T]: Frozen<T[K]> } : T;
type Values<T> = T extends ConfigVariable<string, infer V> ? Frozen<V> : { readonly [K in keyof T]: Values<T[K]> };
type Variables<T> = T extends ConfigVariable ? T : { [K in keyof T]: Variables<T[K]> }[keyof T];

/**
 * The parsed configuration: the shape of `settings`, each variable replaced by
 * its value, what telemetry they decide, and what to say once at start-up
 * (deprecated variable names in use).
 */
export type Config = Values<typeof settings> & { readonly telemetry: ReturnType<typeof telemetryOf>; readonly warnings: readonly string[] };
export type ConfigVariableName = Variables<typeof settings>['name'];

const isVariable = (node: ConfigVariable | Tree): node is ConfigVariable => node.schema instanceof z.ZodType;

function* variablesOf(tree: Tree): Generator<ConfigVariable> {
  for (const node of Object.values(tree)) {
    if (isVariable(node)) yield node;
    else yield* variablesOf(node);
  }
}

/** Every environment variable by name, in declaration order (for the documents and the tests). */
export const configVariables = Object.fromEntries([...variablesOf(settings)].map((v) => [v.name, v])) as {
  readonly [N in ConfigVariableName]: ConfigVariable<N>;
};

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

type Environment = Readonly<Record<string, string | undefined>>;

/**
 * The Python service's names for the database variables (its Deployment sets
 * them), read only when the new name is unset, with a warning in `warnings`.
 */
export const DEPRECATED_ALIASES = { DATABASE_URL: 'MONGODB_URI', DATABASE_NAME: 'MONGODB_DB' } as const satisfies Record<
  string,
  ConfigVariableName
>;

/**
 * Parses the environment (process.env unless given) into a Config. Every bad
 * variable is reported at once, each message naming the variable.
 */
export function loadConfig(source: Environment = process.env): Config {
  const set = (value: string | undefined): boolean => value !== undefined && value.trim() !== '';
  const env: Record<string, string | undefined> = { ...source };
  const warnings: string[] = [];
  const aliasOf = new Map<string, string>();
  for (const [old, current] of Object.entries(DEPRECATED_ALIASES)) {
    if (!set(source[old])) continue;
    if (set(source[current])) {
      warnings.push(`${old} is deprecated and ignored: ${current} is set`);
      continue;
    }
    env[current] = source[old];
    aliasOf.set(current, old);
    warnings.push(`${old} is deprecated: rename it ${current} (read as ${current} because ${current} is unset)`);
  }
  const problems: string[] = [];
  const read = (spec: ConfigVariable): unknown => {
    const raw = env[spec.name];
    const given = set(raw) ? raw : spec.default;
    if (given === undefined) return spec.unset?.();
    const result = spec.schema.safeParse(given);
    if (result.success) return result.data;
    const reason = result.error.issues[0]?.message ?? 'is invalid';
    const name = aliasOf.has(spec.name) ? `${aliasOf.get(spec.name)} (read as ${spec.name})` : spec.name;
    problems.push(`${name} ${reason} (${spec.secret ? 'value not shown' : `got ${JSON.stringify(given)}`})`);
    return undefined;
  };
  const build = (tree: Tree): Record<string, unknown> =>
    Object.fromEntries(Object.entries(tree).map(([key, node]) => [key, isVariable(node) ? read(node) : build(node)]));
  const config = build(settings) as Omit<Config, 'telemetry' | 'warnings'>;
  if (problems.length > 0) throw new ConfigError(problems);
  return { ...config, telemetry: telemetryOf(config.otel), warnings };
}

/**
 * What the OTEL_* variables decide: on when a collector is named (or an exporter chosen) and the SDK is not
 * disabled; then each signal defaults to otlp, as the OpenTelemetry spec says; both exporters none = the SDK
 * is never loaded. The SDK itself reads the other OTEL_* variables (headers, sampler, resource).
 */
function telemetryOf(otel: Values<typeof settings.otel>) {
  const asked = [otel.endpoint, otel.tracesEndpoint, otel.metricsEndpoint, otel.tracesExporter, otel.metricsExporter].some(
    (value) => value !== undefined,
  );
  const on = asked && otel.sdkDisabled === 'false';
  return {
    traces: on ? (otel.tracesExporter ?? 'otlp') : 'none',
    metrics: on ? (otel.metricsExporter ?? 'otlp') : 'none',
    metricsProtocol: otel.metricsProtocol ?? otel.protocol,
    metricIntervalMs: otel.metricIntervalMs,
    portfolioSpans: otel.portfolioSpans,
  };
}

/**
 * Reads a `.env` file into process.env (without overriding what is set) outside production,
 * then the configuration; a ConfigError is handed to `invalid`.
 */
export function loadEnvironment<T>(invalid: (error: ConfigError) => T): Config | T {
  if (process.env.NODE_ENV !== 'production' && existsSync('.env')) process.loadEnvFile('.env');
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) return invalid(error);
    throw error;
  }
}
