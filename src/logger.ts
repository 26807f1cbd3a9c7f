// Structured JSON logs (pino). Request logs carry `correlation_id`.
import { pino, type Logger } from 'pino';
import type { Config } from './config.js';
import { SERVICE_VERSION } from './version.js';

/** Logs to stdout unless given another destination (the command line logs to stderr). */
export function createLogger(config: Pick<Config, 'logLevel'>, destination?: pino.DestinationStream): Logger {
  const options = {
    level: config.logLevel,
    base: { service: 'globeco-order-generation-service', version: SERVICE_VERSION },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: ['req.headers.authorization', 'headers.authorization', '*.apiKey', '*.apiKeys'], censor: '[redacted]' },
  } satisfies pino.LoggerOptions;
  return destination === undefined ? pino(options) : pino(options, destination);
}
