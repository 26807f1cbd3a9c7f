#!/usr/bin/env node
// The operations entry (the commands: USAGE below): the same app as the server, built without listening,
// on the service's database (MONGODB_URI), never on a private one. Progress goes to stderr: a bar on a
// terminal, plain lines otherwise. Exit codes: 0 done; 1 failed (the error in the one error shape on
// stderr); 2 bad arguments.
import { parseArgs } from 'node:util';
import { type Logger, pino } from 'pino';
import { buildApp } from './app.js';
import { answerTable, cycleSummary, modelDriftTable, portfolioDriftTable, watchProgress } from './cli-output.js';
import { type Config, loadEnvironment } from './config.js';
import { createLogger } from './logger.js';
import { configuredMigrator } from './modules/migrations/runner.js';
import { toCycleDto } from './modules/scheduling/routes.js';
import { mongoClient } from './plugins/mongo.js';
import { SERVICE_VERSION } from './version.js';

const USAGE = `order-generation ${SERVICE_VERSION}
Usage:
  order-generation --once [--summary | --json]              run one rebalance cycle now; exit 1 if it failed
  order-generation rebalance model <model_id> [--dry-run] [--summary | --json]
                                                            rebalance a model; print a summary table or the result as JSON
  order-generation rebalance portfolio <portfolio_id> [--dry-run] [--summary | --json]
  order-generation migrate [--dry-run]                      apply pending database migrations (dry run: report, change nothing)
  order-generation migrate --rollback                       put converted rebalances back in the Python service's format
  order-generation drift model <model_id> [--summary | --json] drift of every portfolio of a model, worst first (no trades)
  order-generation drift portfolio <portfolio_id> [--summary | --json] drift of one portfolio, per security, largest first
Configuration comes from the environment, as for the server (see .env.example); MONGODB_URI (and MONGODB_DB)
must name the server's database. Progress goes to stderr (a bar on a terminal); --json is the default when stdout
is not a terminal, --summary when it is.`;

const NO_DATABASE = `MONGODB_URI is not set. The command line works on the service's own database: it will not start a private,
empty one (where no model exists, "rebalance model" answers 404 and --once finds nothing to do).
Point it at the database the server uses, with the same values the server runs with:
  MONGODB_URI=mongodb://<host>:27017 MONGODB_DB=order_generation order-generation <command>
(for "npm start" without MONGODB_URI, the server logs the development database's uri at start-up).`;

/** How the answer is printed: a table for people, JSON for programs. */
type Output = 'summary' | 'json';

type Command =
  | { kind: 'once'; output: Output }
  | { kind: 'rebalance'; target: 'model' | 'portfolio'; id: string; dryRun: boolean; output: Output }
  | { kind: 'migrate'; dryRun: boolean; rollback: boolean }
  | { kind: 'drift'; target: 'model' | 'portfolio'; id: string; output: Output };

function usage(problem: string): never {
  process.stderr.write(`${problem}\n\n${USAGE}\n`);
  process.exit(2);
}

function command(argv: string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        once: { type: 'boolean' },
        'dry-run': { type: 'boolean' },
        rollback: { type: 'boolean' },
        help: { type: 'boolean' },
        summary: { type: 'boolean' },
        json: { type: 'boolean' },
      },
      allowPositionals: true,
    });
  } catch (error) {
    usage((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  if (values.summary === true && values.json === true) usage('--summary and --json cannot be combined');
  const output: Output = values.summary === true ? 'summary' : values.json === true ? 'json' : process.stdout.isTTY ? 'summary' : 'json';
  if (values.once === true) {
    if (positionals.length > 0 || values['dry-run'] === true) usage('--once takes no other arguments');
    return { kind: 'once', output };
  }
  if (positionals[0] === 'migrate') {
    if (values.summary === true || values.json === true) usage('migrate prints its report as JSON; --summary and --json do not apply');
    if (positionals.length > 1) usage(`migrate takes no arguments: ${positionals.slice(1).join(' ')}`);
    if (values.rollback === true && values['dry-run'] === true) usage('--rollback and --dry-run cannot be combined');
    return { kind: 'migrate', dryRun: values['dry-run'] === true, rollback: values.rollback === true };
  }
  if (values.rollback === true) usage('--rollback goes with migrate only');
  const [verb, target, id, ...rest] = positionals;
  // A drift report trades nothing: --dry-run does not apply.
  const drift = verb === 'drift' && values['dry-run'] !== true;
  if ((verb !== 'rebalance' && !drift) || (target !== 'model' && target !== 'portfolio') || id === undefined || rest.length > 0) {
    usage(positionals.length === 0 ? 'Nothing to do' : `Cannot understand: ${positionals.join(' ')}`);
  }
  return drift ? { kind: 'drift', target, id, output } : { kind: 'rebalance', target, id, dryRun: values['dry-run'] === true, output };
}

async function main(): Promise<void> {
  const what = command(process.argv.slice(2));
  const config = loadEnvironment((error) => {
    process.stderr.write(`${error.message}\n`);
    return process.exit(2);
  });
  // Logs go to stderr: stdout carries only the JSON answer. Quieter than the server by default.
  const logger = createLogger({ logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel }, pino.destination(2));
  for (const warning of config.warnings) logger.warn(warning);
  if (config.mongodb.uri === undefined) {
    process.stderr.write(`${NO_DATABASE}\n`);
    process.exit(2);
  }
  if (what.kind === 'migrate') process.exit(await migrate(config, logger, what));
  const app = await buildApp(config, { logger });
  await app.ready();
  const progress = watchProgress(app.rebalanceProgress, process.stderr, config.jobs.progressLogMs);
  let code = 0;
  try {
    if (what.kind === 'once') {
      const cycle = await app.scheduler.runOnce();
      progress.stop();
      if (cycle === null) {
        process.stderr.write('Another replica holds the cycle lease (a cycle is running); nothing was done\n');
        code = 1;
      } else {
        if (cycle.status === 'succeeded' && cycle.models === 0) {
          process.stderr.write(
            `Nothing to rebalance: no model in database "${config.mongodb.dbName}" has portfolios (is MONGODB_URI/MONGODB_DB the server's database?)\n`,
          );
        }
        print(toCycleDto(cycle), what.output, cycleSummary);
        code = cycle.status === 'succeeded' ? 0 : 1;
      }
    } else if (what.kind === 'drift') {
      const path = `${what.target}/${encodeURIComponent(what.id)}/drift${what.target === 'model' ? '?sort_by=-total_drift' : ''}`;
      const table = what.target === 'model' ? modelDriftTable : portfolioDriftTable;
      code = print(await inject(app, config, 'GET', path, progress), what.output, table);
    } else {
      const path = `${what.target}/${encodeURIComponent(what.id)}/rebalance${what.dryRun ? '?dry_run=true' : ''}`;
      code = print(await inject(app, config, 'POST', path, progress), what.output, answerTable);
    }
  } finally {
    progress.stop();
    await app.close();
  }
  process.exit(code);
}

type App = Awaited<ReturnType<typeof buildApp>>;
type Progress = ReturnType<typeof watchProgress>;

/**
 * A request to the app's own /api/v1 routes, never leaving the process: its JSON answer, or null once
 * its error is printed on stderr (after the progress output has stopped). The command line acts with the operator's configuration: with
 * API_KEYS set, one of them authorises the request.
 */
// biome-ignore lint/suspicious/noExplicitAny: the route's JSON answer as JSON.parse gives it, read by its printer
async function inject(app: App, config: Config, method: 'GET' | 'POST', path: string, progress: Progress): Promise<any> {
  const key = config.apiKeys[0];
  const res = await app.inject({ method, url: `/api/v1/${path}`, headers: key === undefined ? {} : { authorization: `Bearer ${key}` } });
  progress.stop();
  const body = JSON.parse(res.body);
  if (res.statusCode === 200) return body;
  process.stderr.write(`${JSON.stringify(body, null, 2)}\n`);
  return null;
}

/** The answer on stdout, its summary for people or its JSON for programs; null (its error printed already): exit 1. */
function print<T>(body: T | null, output: Output, summary: (body: NoInfer<T>) => string): number {
  if (body === null) return 1;
  process.stdout.write(`${output === 'json' ? JSON.stringify(body, null, 2) : summary(body)}\n`);
  return 0;
}

/** Exit 0 done (or nothing to do), 1 a step failed or another process holds the lock. */
async function migrate(config: Config, logger: Logger, what: { dryRun: boolean; rollback: boolean }): Promise<number> {
  const client = mongoClient(config.mongodb.uri!, config.mongodb.timeoutMs);
  try {
    await client.connect();
    const migrator = configuredMigrator(client.db(config.mongodb.dbName), config, logger);
    const run = what.rollback ? await migrator.rollback() : await migrator.run({ dryRun: what.dryRun });
    if (!run.locked) {
      process.stderr.write('Another process holds the migration lock (migrations are running); nothing was done\n');
      return 1;
    }
    const report = 'steps' in run ? { dry_run: run.dryRun, ok: run.ok, migrations: run.steps } : { rollback: run.report };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return 'steps' in run && !run.ok ? 1 : 0;
  } finally {
    await client.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
