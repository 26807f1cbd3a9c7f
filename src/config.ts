// The service's configuration: each environment variable declared once (name,
// type, default, meaning), parsed once at start-up. This is the only module that reads process.env.
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import cron from 'node-cron';
import { z } from 'zod';

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

const pythonLogLevels: Record<string, string> = { warning: 'warn', critical: 'fatal' };

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
        message:
          'no longer accepts "on" (it trusted every hop, so a client could choose its own address): give the number of proxies in front of the service (e.g. 1) or their addresses',
      });
      return z.NEVER;
    }
    if (/^\d+$/.test(value)) {
      const hops = Number(value);
      if (hops <= 100) return hops;
    } else {
      const items = value
        .split(',')
        .map((part) => part.trim())
        .filter((part) => part.length > 0);
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
 * Declares a variable. The value's type is the schema's output, `| undefined`
 * when there is neither a default nor an `unset` fallback.
 */
function variable<const Name extends string, S extends z.ZodType, D extends string | undefined = undefined, F = undefined>(entry: {
  name: Name;
  type: S;
  default?: D;
  description: string;
  secret?: boolean;
  unset?: () => F;
}): ConfigVariable<Name, D extends string ? z.output<S> : z.output<S> | F> {
  return {
    name: entry.name,
    schema: entry.type,
    default: entry.default,
    description: entry.description,
    secret: entry.secret ?? false,
    unset: entry.unset,
  } as ConfigVariable<Name, D extends string ? z.output<S> : z.output<S> | F>;
}

/**
 * Every environment variable the service reads, in the shape of the Config
 * that loadConfig returns, each declared once; the order is the order of
 * .env.example and the configuration table (npm run docs:config).
 */
const settings = {
  port: variable({ name: 'PORT', type: integer(0, 65535), default: '8088', description: 'HTTP listen port' }),
  host: variable({
    name: 'HOST',
    type: z.string().trim().min(1, 'must not be empty'),
    default: '0.0.0.0',
    description: 'HTTP listen address',
  }),
  logLevel: variable({
    name: 'LOG_LEVEL',
    // Any case, and the Python service's names (INFO, WARNING, CRITICAL), so its ConfigMap carries over.
    type: z.preprocess(
      (value) => (typeof value === 'string' ? (pythonLogLevels[value.trim().toLowerCase()] ?? value.trim().toLowerCase()) : value),
      z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
        error: 'must be one of fatal, error, warn, info, debug, trace, silent (any case; WARNING and CRITICAL also read)',
      }),
    ),
    default: 'info',
    description: "pino log level, in any case; the Python service's WARNING and CRITICAL read as warn and fatal",
  }),
  mongodb: {
    uri: variable({
      name: 'MONGODB_URI',
      type: mongoUri,
      description: 'MongoDB connection string; unset starts an embedded development database (never in production)',
      secret: true,
    }),
    dbName: variable({
      name: 'MONGODB_DB',
      type: z
        .string()
        .trim()
        .regex(/^[A-Za-z0-9_-]{1,63}$/, 'must be 1-63 letters, digits, "_" or "-"'),
      default: 'order_generation',
      description: 'MongoDB database name',
    }),
    timeoutMs: variable({
      name: 'MONGODB_TIMEOUT_MS',
      type: integer(100, 600_000),
      default: '10000',
      description: 'how long a database operation waits for a reachable MongoDB server before the request fails with 503',
    }),
  },
  upstreams: {
    urls: {
      accounting: variable({
        name: 'PORTFOLIO_ACCOUNTING_SERVICE_URL',
        type: httpUrl,
        default: 'http://globeco-portfolio-accounting-service:8087',
        description: 'Portfolio Accounting service (holdings and cash)',
      }),
      security: variable({
        name: 'SECURITY_SERVICE_URL',
        type: httpUrl,
        default: 'http://globeco-security-service:8000',
        description: 'Security service (tickers)',
      }),
      pricing: variable({
        name: 'PRICING_SERVICE_URL',
        type: httpUrl,
        default: 'http://globeco-pricing-service:8083',
        description: 'Pricing service (prices)',
      }),
      portfolio: variable({
        name: 'PORTFOLIO_SERVICE_URL',
        type: httpUrl,
        default: 'http://globeco-portfolio-service:8000',
        description: 'Portfolio service (portfolio names, optional)',
      }),
      order: variable({
        name: 'ORDER_SERVICE_URL',
        type: httpUrl,
        default: 'http://globeco-order-service:8081',
        description: 'Order service (order submission)',
      }),
    },
    timeoutMs: variable({
      name: 'UPSTREAM_TIMEOUT_MS',
      type: integer(1, 600_000),
      default: '10000',
      description: 'per-attempt timeout of an upstream call',
    }),
    attempts: variable({
      name: 'UPSTREAM_RETRIES',
      type: integer(1, 20),
      default: '3',
      description: 'attempts in all for one upstream call (1 = no retry)',
    }),
    backoffMs: variable({
      name: 'UPSTREAM_BACKOFF_MS',
      type: integer(0, 600_000),
      default: '1000',
      description: 'base of the exponential backoff between attempts',
    }),
    maxInFlight: variable({
      name: 'UPSTREAM_MAX_IN_FLIGHT',
      type: integer(1, 10_000),
      default: '64',
      description: 'bulkhead: concurrent calls per upstream service',
    }),
    circuitFailureThreshold: variable({
      name: 'CIRCUIT_FAILURE_THRESHOLD',
      type: integer(1, 1000),
      default: '5',
      description: 'consecutive non-4xx failures that open a service circuit',
    }),
    circuitResetMs: variable({
      name: 'CIRCUIT_RESET_MS',
      type: integer(1, 3_600_000),
      default: '60000',
      description: 'how long an open circuit waits before a probe',
    }),
    securityCacheTtlMs: variable({
      name: 'SECURITY_CACHE_TTL_MS',
      type: integer(0, 86_400_000),
      default: '600000',
      description: 'ticker cache time-to-live',
    }),
    priceCacheTtlMs: variable({
      name: 'PRICE_CACHE_TTL_MS',
      type: integer(0, 86_400_000),
      default: '60000',
      description: 'price cache time-to-live',
    }),
    cacheMaxEntries: variable({
      name: 'CACHE_MAX_ENTRIES',
      type: integer(1, 10_000_000),
      default: '50000',
      description: 'entries per cache',
    }),
    bulkThreshold: variable({
      name: 'QUOTE_BULK_THRESHOLD',
      type: integer(0, 1_000_000),
      default: '10',
      description:
        'a rebalance needing more uncached tickers (or prices) than this reads them all with GET /securities (/prices) instead of one call each',
    }),
  },
  optimizationTimeoutMs: variable({
    name: 'OPTIMIZATION_TIMEOUT_MS',
    type: integer(1, 3_600_000),
    default: '30000',
    description: 'solver budget per portfolio; past it the portfolio is infeasible',
  }),
  rebalanceConcurrency: variable({
    name: 'REBALANCE_CONCURRENCY',
    type: integer(1, 1000),
    default: '16',
    description: 'portfolios in flight at once in a model rebalance',
  }),
  /** Asynchronous rebalances (docs/async-rebalances.md) and progress reports. */
  jobs: {
    heartbeatMs: variable({
      name: 'REBALANCE_JOB_HEARTBEAT_MS',
      type: integer(100, 600_000),
      default: '5000',
      description:
        'how often a replica records the progress of its asynchronous rebalances (and sees cancellations asked of another replica)',
    }),
    staleMs: variable({
      name: 'REBALANCE_JOB_STALE_MS',
      type: integer(1000, 86_400_000),
      default: '60000',
      description: 'a running asynchronous rebalance whose progress was not recorded for this long is marked abandoned (its process died)',
    }),
    dryRunTtlMs: variable({
      name: 'REBALANCE_DRY_RUN_TTL_MS',
      type: integer(1000, 604_800_000),
      default: '3600000',
      description: 'how long the result of an asynchronous dry run is kept after it completes',
    }),
    progressLogMs: variable({
      name: 'REBALANCE_PROGRESS_LOG_MS',
      type: integer(0, 3_600_000),
      default: '5000',
      description: 'a progress log line per running model rebalance this often (done/total, rate, time left; 0 = none)',
    }),
  },
  schedule: {
    cron: variable({
      name: 'REBALANCE_SCHEDULE',
      type: cronExpression,
      description: 'cron expression for scheduled rebalance cycles (unset = off)',
    }),
    timeZone: variable({ name: 'REBALANCE_SCHEDULE_TZ', type: timeZone, default: 'UTC', description: 'time zone of the schedule' }),
    trigger: variable({
      name: 'REBALANCE_TRIGGER',
      type: z.enum(['calendar', 'threshold'], { error: 'must be calendar or threshold' }),
      default: 'calendar',
      description: 'scheduled cycles: "calendar" trades every portfolio; "threshold" only those with a security outside its band',
    }),
    leaseTtlMs: variable({
      name: 'CYCLE_LEASE_TTL_MS',
      type: integer(500, 3_600_000),
      default: '60000',
      description: 'how long a replica holds the cycle lease without renewing it (renewed every third of it)',
    }),
    clockSkewMs: variable({
      name: 'CLOCK_SKEW_MS',
      type: integer(0, 600_000),
      default: '5000',
      description: 'clock difference between replicas tolerated: a lease is taken over only this long after it expired',
    }),
    replicaId: variable({
      name: 'REPLICA_ID',
      type: z.string().trim().min(1).max(100),
      description: 'name of this replica in cycle records (default: host name and pid)',
      unset: () => `${hostname()}-${process.pid}`,
    }),
  },
  orders: {
    submission: variable({
      name: 'ORDER_SUBMISSION',
      type: onOff,
      default: 'off',
      description: '"on": completed cycles (and ?submit=true rebalance calls) submit their orders to the Order service',
    }),
    blotterId: variable({
      name: 'ORDER_BLOTTER_ID',
      type: integer(0, 2_147_483_647),
      default: '1',
      description: "blotter id of submitted orders (checked once against the Order service's /blotters)",
    }),
    submitTimeoutMs: variable({
      name: 'ORDER_SUBMIT_TIMEOUT_MS',
      type: integer(1, 3_600_000),
      default: '120000',
      description: 'timeout of one POST /orders (the Order service is slow by design; not UPSTREAM_TIMEOUT_MS)',
    }),
    batchSize: variable({
      name: 'ORDER_BATCH_SIZE',
      type: integer(1, 1000),
      default: '250',
      description: 'orders per POST /orders (the Order service takes at most 1000)',
    }),
  },
  apiKeys: variable({
    name: 'API_KEYS',
    type: commaList(z.string().min(16, 'each key must be at least 16 characters'), 'keys of at least 16 characters'),
    description: 'comma-separated API keys; when set, every /api/v1 write needs "authorization: Bearer <key>"',
    secret: true,
    unset: (): string[] => [],
  }),
  /** max undefined: no rate limit. */
  rateLimit: {
    max: variable({
      name: 'RATE_LIMIT_MAX',
      type: integer(1, 1_000_000),
      description:
        'requests per caller per window on /api/v1 (per API key when a valid one is sent, else per client address; wrong keys count); unset = no limit',
    }),
    windowMs: variable({ name: 'RATE_LIMIT_WINDOW_MS', type: integer(1, 86_400_000), default: '60000', description: 'rate-limit window' }),
  },
  corsOrigins: variable({
    name: 'CORS_ORIGINS',
    type: commaList(z.string(), 'origins'),
    default: '*',
    description: 'allowed CORS origins, comma-separated ("*" allows all)',
  }),
  /** false, a hop count, or the proxies' addresses/CIDRs (never true: see trustProxy). */
  trustProxy: variable({
    name: 'TRUST_PROXY',
    type: trustProxy,
    default: 'off',
    description:
      'proxies whose x-forwarded-for is believed (client address for rate limits and logs): "off", a hop count (1 for one ingress), or proxy addresses/CIDRs, comma-separated',
  }),
  bodyLimitBytes: variable({
    name: 'BODY_LIMIT_BYTES',
    type: integer(1024, 100 * 1024 * 1024),
    default: '1048576',
    description: 'largest accepted request body',
  }),
  requestTimeoutMs: variable({
    name: 'REQUEST_TIMEOUT_MS',
    type: integer(0, 600_000),
    default: '30000',
    description: 'time a client has to send a whole request, headers and body (0 = no limit)',
  }),
  /** Back-pressure limits; 0 turns one off. Heap undefined: 90% of the heap limit. */
  overload: {
    maxEventLoopDelayMs: variable({
      name: 'MAX_EVENT_LOOP_DELAY_MS',
      type: integer(0, 60_000),
      default: '1000',
      description: 'back-pressure: mean event-loop delay above which /api/v1 answers 503 OVERLOADED (0 = off)',
    }),
    maxHeapUsedMb: variable({
      name: 'MAX_HEAP_USED_MB',
      type: integer(0, 1_048_576),
      description: 'back-pressure: heap used above which /api/v1 answers 503 OVERLOADED (unset: 90% of the heap limit; 0 = off)',
    }),
  },
  shutdownGraceMs: variable({
    name: 'SHUTDOWN_GRACE_MS',
    type: integer(0, 600_000),
    default: '10000',
    description: 'time to finish in-flight work on SIGTERM',
  }),
  maintenance: {
    sweepIntervalMs: variable({
      name: 'SWEEP_INTERVAL_MS',
      type: integer(0, 86_400_000),
      default: '900000',
      description: 'how often one replica sweeps what failed rebalances left behind (it also sweeps at start-up; 0 = at start-up only)',
    }),
    sweepMinAgeMs: variable({
      name: 'SWEEP_MIN_AGE_MS',
      type: integer(0, 604_800_000),
      default: '3600000',
      description:
        'age past which portfolio documents of a never-published rebalance, and spool files of no live request, are removed; keep it well above the longest rebalance (10 000 portfolios took under 2 minutes)',
    }),
    repairIntervalMs: variable({
      name: 'REPAIR_INTERVAL_MS',
      type: integer(1000, 3_600_000),
      default: '30000',
      description:
        'how often each replica retries what it could not do at once: a unique index that duplicate values kept from being created, the clean-up of a failed rebalance the database did not take',
    }),
    spoolDir: variable({
      name: 'SPOOL_DIR',
      type: z.string().trim().min(1, 'must not be empty'),
      description: 'directory of the temporary files that model rebalance answers are spooled to (default: the system temporary directory)',
    }),
  },
  /** OpenTelemetry as the standard OTEL_* variables say it; `telemetry` below is what they decide (docs/telemetry.md). */
  otel: {
    sdkDisabled: variable({
      name: 'OTEL_SDK_DISABLED',
      type: z.enum(['true', 'false'], { error: 'must be "true" or "false"' }),
      default: 'false',
      description: 'OpenTelemetry: "true" turns traces and OTLP metrics off whatever else is set',
    }),
    endpoint: variable({
      name: 'OTEL_EXPORTER_OTLP_ENDPOINT',
      type: httpUrl,
      description:
        'OpenTelemetry collector (OTLP) base URL; unset (and no per-signal endpoint or exporter set) = no tracing, no SDK loaded (docs/telemetry.md lists the other OTEL_* variables, read by the SDK)',
    }),
    tracesEndpoint: variable({
      name: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
      type: httpUrl,
      description: 'OTLP URL for traces only (turns OpenTelemetry on like OTEL_EXPORTER_OTLP_ENDPOINT)',
    }),
    metricsEndpoint: variable({
      name: 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT',
      type: httpUrl,
      description: 'OTLP URL for metrics only (turns OpenTelemetry on like OTEL_EXPORTER_OTLP_ENDPOINT)',
    }),
    tracesExporter: variable({
      name: 'OTEL_TRACES_EXPORTER',
      type: telemetryExporter,
      description: 'where spans go once OpenTelemetry is on: otlp (default), console or none',
    }),
    metricsExporter: variable({
      name: 'OTEL_METRICS_EXPORTER',
      type: telemetryExporter,
      description: 'where the /metrics figures also go once OpenTelemetry is on: otlp (default), console or none',
    }),
    protocol: variable({
      name: 'OTEL_EXPORTER_OTLP_PROTOCOL',
      type: otlpProtocol,
      default: 'http/protobuf',
      description: 'OTLP transport: http/protobuf, http/json or grpc',
    }),
    metricsProtocol: variable({
      name: 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL',
      type: otlpProtocol,
      description: 'OTLP transport for metrics only (default: OTEL_EXPORTER_OTLP_PROTOCOL)',
    }),
    metricIntervalMs: variable({
      name: 'OTEL_METRIC_EXPORT_INTERVAL',
      type: integer(100, 86_400_000),
      default: '60000',
      description: 'how often metrics are exported over OTLP, in milliseconds',
    }),
    portfolioSpans: variable({
      name: 'TRACE_PORTFOLIO_SPANS',
      type: integer(0, 1_000_000),
      default: '100',
      description:
        'portfolios of one rebalance traced with a span of their own (and their upstream, database and solver spans); the others run untraced',
    }),
  },
};

type Tree = { readonly [key: string]: ConfigVariable | Tree };
type Frozen<T> = T extends readonly (infer U)[] ? readonly U[] : T extends object ? { readonly [K in keyof T]: Frozen<T[K]> } : T;
type Values<T> = T extends ConfigVariable<string, infer V> ? Frozen<V> : { readonly [K in keyof T]: Values<T[K]> };
type Variables<T> = T extends ConfigVariable ? T : { [K in keyof T]: Variables<T[K]> }[keyof T];

/** What the OTEL_* variables decide: both exporters none = the SDK is never loaded. */
export interface TelemetrySettings {
  readonly traces: z.output<typeof telemetryExporter>;
  readonly metrics: z.output<typeof telemetryExporter>;
  readonly metricsProtocol: z.output<typeof otlpProtocol>;
  readonly metricIntervalMs: number;
  readonly portfolioSpans: number;
}

/**
 * The parsed configuration: the shape of `settings`, each variable replaced by
 * its value, what telemetry they decide, and what to say once at start-up
 * (deprecated variable names in use).
 */
export type Config = Values<typeof settings> & { readonly telemetry: TelemetrySettings; readonly warnings: readonly string[] };
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

/**
 * Parses the environment (process.env unless given) into a Config. Every bad
 * variable is reported at once, each message naming the variable.
 */
export function loadConfig(source: Environment = process.env): Config {
  const { env, warnings, aliasOf } = withDeprecatedAliases(source);
  const problems: string[] = [];
  const read = (spec: ConfigVariable): unknown => {
    const raw = env[spec.name];
    const given = raw !== undefined && raw.trim() !== '' ? raw : spec.default;
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
 * On when a collector is named (or an exporter chosen) and the SDK is not
 * disabled; then each signal defaults to otlp, as the OpenTelemetry spec says.
 * The SDK itself reads the other OTEL_* variables (headers, sampler, resource).
 */
function telemetryOf(otel: Config['otel']): TelemetrySettings {
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

/** Reads a `.env` file into process.env (without overriding what is set), outside production. */
export function loadDotEnv(path = '.env'): void {
  if (process.env.NODE_ENV === 'production' || !existsSync(path)) return;
  process.loadEnvFile(path);
}
