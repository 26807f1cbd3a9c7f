// Structured JSON logs (pino). Every line written while a request is being
// served carries its `correlation_id`: the request's own logger binds it, and
// any other logger (the upstream clients', the services') takes it from the
// request context (AsyncLocalStorage, entered by app.ts for each request).
import { AsyncLocalStorage } from 'node:async_hooks';
import { type Logger, pino } from 'pino';
import type { Config } from './config.js';
import { SERVICE_VERSION } from './version.js';

/** What a request leaves in its asynchronous context. */
export const requestContext = new AsyncLocalStorage<{ readonly correlationId: string }>();

/** Set on a request's logger (and so inherited by its children): its lines already bind `correlation_id`. */
export const CORRELATED = Symbol('correlated');

/** Adds the request's `correlation_id` to a line from a logger that does not bind it already. */
function correlation(_merge: object, _level: number, logger: Logger): Record<string, string> {
  if ((logger as Logger & { [CORRELATED]?: boolean })[CORRELATED] === true) return {};
  const context = requestContext.getStore();
  return context === undefined ? {} : { correlation_id: context.correlationId };
}

/** Logs to stdout unless given another destination (the command line logs to stderr). */
export function createLogger(config: Pick<Config, 'logLevel'>, destination?: pino.DestinationStream): Logger {
  const options = {
    level: config.logLevel,
    base: { service: 'globeco-order-generation-service', version: SERVICE_VERSION },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    mixin: correlation,
    redact: { paths: ['req.headers.authorization', 'headers.authorization', '*.apiKey', '*.apiKeys'], censor: '[redacted]' },
  } satisfies pino.LoggerOptions;
  return destination === undefined ? pino(options) : pino(options, destination);
}
