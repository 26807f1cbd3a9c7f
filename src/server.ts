// The service process: reads the configuration, starts a development database
// when MONGODB_URI is unset, listens, and shuts down gracefully on signals.
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import { ConfigError, loadConfig, loadDotEnv, type Config } from './config.js';
import { withDevDatabaseIfUnset } from './dev-database.js';
import { createLogger } from './logger.js';

/** Time allowed, after the grace period, to close the database and upstream connections. */
const CLOSE_MS = 5000;

async function main(): Promise<void> {
  loadDotEnv();
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${JSON.stringify({ level: 'fatal', msg: error.message, problems: error.problems })}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config);
  process.on('unhandledRejection', (reason) => {
    logger.fatal({ err: reason }, 'unhandled promise rejection');
    process.exit(1);
  });
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception');
    process.exit(1);
  });

  const started = await withDevDatabaseIfUnset(config, logger);
  config = started.config;
  const devDatabase = started.database;

  const app: FastifyInstance = await buildApp(config, { logger });
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    app.lifecycle.shuttingDown = true;
    logger.info({ signal, graceMs: config.shutdownGraceMs }, 'shutting down: finishing in-flight work');
    // In-flight work gets the grace period; closing connections after it gets a little more.
    const deadline = setTimeout(() => {
      logger.error({ graceMs: config.shutdownGraceMs }, 'shutdown took too long: exiting with work unfinished');
      process.exit(1);
    }, config.shutdownGraceMs + CLOSE_MS);
    deadline.unref();
    await app.close();
    await devDatabase?.stop();
    logger.info('shut down cleanly');
    process.exit(0);
  };
  process.on('SIGTERM', (signal) => void shutdown(signal));
  process.on('SIGINT', (signal) => void shutdown(signal));

  await app.listen({ port: config.port, host: config.host });
  app.scheduler.start();
  app.maintenance.start();
  if (config.schedule.cron === undefined) logger.info('no REBALANCE_SCHEDULE: scheduled rebalance cycles are off');
}

void main();
