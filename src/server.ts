// The service process: reads the configuration, starts a development database
// when MONGODB_URI is unset, listens, and shuts down gracefully on signals.
import type { FastifyInstance } from 'fastify';
import { MongoError } from 'mongodb';
import { buildApp } from './app.js';
import { type Config, loadEnvironment } from './config.js';
import { type DevDatabase, withDevDatabaseIfUnset } from './dev-database.js';
import { createLogger } from './logger.js';
import { configuredMigrator } from './modules/migrations/runner.js';
import { isDatabaseUnavailable } from './plugins/mongo.js';
import { telemetry } from './telemetry/state.js';

/** What stopped the start, in words an operator can act on. */
function startupFailure(error: unknown, config: Config): string {
  const { message = '', code } = (error ?? {}) as { message?: string; code?: unknown };
  if (error instanceof MongoError && /authenticat|sasl|scram/i.test(message)) {
    return 'MongoDB did not accept the credentials of MONGODB_URI (authentication failed); check its user, password and authSource';
  }
  if (isDatabaseUnavailable(error)) {
    return `MongoDB could not be reached within MONGODB_TIMEOUT_MS (${config.mongodb.timeoutMs} ms); check the host and port of MONGODB_URI and that the server is up`;
  }
  if (error instanceof MongoError) return `MongoDB refused to set up the database (${message})`;
  if (code === 'EADDRINUSE' || code === 'EACCES') return `cannot listen on ${config.host}:${config.port} (${String(code)})`;
  return message === '' ? 'an unexpected error' : message;
}

/** Time allowed, after the grace period, to close the database and upstream connections. */
const CLOSE_MS = 5000;

async function main(): Promise<void> {
  let config = loadEnvironment((error) => {
    process.stderr.write(`${JSON.stringify({ level: 'fatal', msg: error.message, problems: error.problems })}\n`);
    return process.exit(1);
  });
  const logger = createLogger(config);
  if ((config.telemetry.traces !== 'none' || config.telemetry.metrics !== 'none') && telemetry.stop === undefined) {
    logger.warn(
      'OTEL_* turn OpenTelemetry on, but the process was started without --import ./dist/src/telemetry/preload.js (npm start, the image): nothing is traced or exported',
    );
  }
  for (const warning of config.warnings) logger.warn(warning);
  const fatal = (message: string) => (err: unknown) => {
    logger.fatal({ err }, message);
    process.exit(1);
  };
  process.on('unhandledRejection', fatal('unhandled promise rejection'));
  process.on('uncaughtException', fatal('uncaught exception'));

  let devDatabase: DevDatabase | undefined;
  let app: FastifyInstance;
  try {
    const started = await withDevDatabaseIfUnset(config, logger);
    config = started.config;
    devDatabase = started.database;
    app = await buildApp(config, { logger });
    // Pending database migrations, run by the first replica to take the migration
    // lock, before it listens (it never answers from a half-converted database).
    // The others start at once: the data they read is converted one rebalance at a
    // time (a legacy rebalance reads with no portfolios until its turn comes). A
    // step that could not convert everything is logged and stays pending.
    const run = await configuredMigrator(app.mongo.db, config, logger).run();
    if (!run.locked) logger.info('another replica holds the migration lock: it runs the pending migrations');
    else if (!run.ok)
      logger.error(
        { migrations: run.steps },
        'a database migration could not finish; run order-generation migrate --dry-run for the details',
      );
  } catch (error) {
    // Said once, plainly, and without the connection string (it may hold a password).
    logger.fatal(
      { err: { name: (error as Error).name, message: (error as Error).message, code: (error as { code?: unknown }).code } },
      `start-up failed: ${startupFailure(error, config)}`,
    );
    await devDatabase?.stop().catch(() => undefined);
    process.exit(1);
  }
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
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => void shutdown(signal));

  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    logger.fatal({ err: error }, `start-up failed: ${startupFailure(error, config)}`);
    process.exit(1);
  }
  app.scheduler.start();
  app.maintenance.start();
  if (config.schedule.cron === undefined) logger.info('no REBALANCE_SCHEDULE: scheduled rebalance cycles are off');
}

void main();
