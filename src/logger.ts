// Structured JSON logs (pino). Request logs carry `correlation_id`.
import { pino, type Logger } from 'pino';
import type { Config } from './config.js';
import { SERVICE_VERSION } from './version.js';

export function createLogger(config: Pick<Config, 'logLevel'>): Logger {
  return pino({
    level: config.logLevel,
    base: { service: 'globeco-order-generation-service', version: SERVICE_VERSION },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: ['req.headers.authorization', 'headers.authorization', '*.apiKey', '*.apiKeys'], censor: '[redacted]' },
  });
}
