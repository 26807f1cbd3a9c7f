#!/usr/bin/env node
// The operations entry: the same app as the server, built without listening.
//   order-generation --once                                  one rebalance cycle now (Kubernetes CronJob)
//   order-generation rebalance model <model_id> [--dry-run]    print the RebalanceDTO[] as JSON
//   order-generation rebalance portfolio <id> [--dry-run]      print the RebalanceDTO as JSON
// Exit codes: 0 done; 1 failed (the error in the one error shape on stderr); 2 bad arguments.
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { buildApp } from './app.js';
import { ConfigError, loadConfig, loadDotEnv, type Config } from './config.js';
import { withDevDatabaseIfUnset } from './dev-database.js';
import { createLogger } from './logger.js';
import { toCycleDto } from './modules/scheduling/routes.js';
import { SERVICE_VERSION } from './version.js';

const USAGE = `order-generation ${SERVICE_VERSION}
Usage:
  order-generation --once                                   run one rebalance cycle now; exit 1 if it failed
  order-generation rebalance model <model_id> [--dry-run]     rebalance a model; print the result as JSON
  order-generation rebalance portfolio <portfolio_id> [--dry-run]
Configuration comes from the environment, as for the server (see .env.example).`;

type Command = { kind: 'once' } | { kind: 'rebalance'; target: 'model' | 'portfolio'; id: string; dryRun: boolean };

function usage(problem: string): never {
  process.stderr.write(`${problem}\n\n${USAGE}\n`);
  process.exit(2);
}

function command(argv: string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { once: { type: 'boolean' }, 'dry-run': { type: 'boolean' }, help: { type: 'boolean' } }, allowPositionals: true });
  } catch (error) {
    usage((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  if (values.once === true) {
    if (positionals.length > 0 || values['dry-run'] === true) usage('--once takes no other arguments');
    return { kind: 'once' };
  }
  const [verb, target, id, ...rest] = positionals;
  if (verb !== 'rebalance' || (target !== 'model' && target !== 'portfolio') || id === undefined || rest.length > 0) {
    usage(positionals.length === 0 ? 'Nothing to do' : `Cannot understand: ${positionals.join(' ')}`);
  }
  return { kind: 'rebalance', target, id, dryRun: values['dry-run'] === true };
}

async function main(): Promise<void> {
  const what = command(process.argv.slice(2));
  loadDotEnv();
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  // Logs go to stderr: stdout carries only the JSON answer. Quieter than the server by default.
  const logger = createLogger({ logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel }, pino.destination(2));
  const started = await withDevDatabaseIfUnset(config, logger);
  config = started.config;
  const database = started.database;
  const app = await buildApp(config, { logger });
  await app.ready();
  let code = 0;
  try {
    if (what.kind === 'once') {
      const cycle = await app.scheduler.runOnce();
      if (cycle === null) {
        process.stderr.write('Another replica holds the cycle lease (a cycle is running); nothing was done\n');
        code = 1;
      } else {
        process.stdout.write(`${JSON.stringify(toCycleDto(cycle), null, 2)}\n`);
        code = cycle.status === 'succeeded' ? 0 : 1;
      }
    } else {
      // The command line acts with the operator's configuration: with API_KEYS set, one of
      // them authorises this request, which never leaves the process.
      const key = config.apiKeys[0];
      const res = await app.inject({
        method: 'POST',
        url: `/api/v1/${what.target}/${encodeURIComponent(what.id)}/rebalance${what.dryRun ? '?dry_run=true' : ''}`,
        headers: key === undefined ? {} : { authorization: `Bearer ${key}` },
      });
      const body = JSON.stringify(JSON.parse(res.body), null, 2);
      if (res.statusCode === 200) process.stdout.write(`${body}\n`);
      else {
        process.stderr.write(`${body}\n`);
        code = 1;
      }
    }
  } finally {
    await app.close();
    await database?.stop();
  }
  process.exit(code);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
