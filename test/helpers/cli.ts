// The operations command line, run as an operator would: a child process
// with only PATH and the given environment.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import type { World } from './rebalancing.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** What an operator sets to point the command line at a world's database and simulated services. */
export const cliEnv = (w: World): Record<string, string> => ({
  ...w.sim.env(),
  MONGODB_URI: w.t.config.mongodb.uri!,
  MONGODB_DB: w.t.config.mongodb.dbName,
  LOG_LEVEL: 'silent',
  UPSTREAM_BACKOFF_MS: '1',
});

export function runCli(args: string[], env: Record<string, string>): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli.ts', ...args],
      { cwd: root, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr }),
    );
  });
}

/**
 * The same, on a terminal: `script` gives the command a pseudo-terminal for
 * stdin, stdout and stderr, whose output (both streams, as a terminal shows
 * them) is `stdout` here.
 */
export function runCliInTerminal(args: string[], env: Record<string, string>): Promise<CliRun> {
  const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const command = [process.execPath, '--import', 'tsx', 'src/cli.ts', ...args].map(quote).join(' ');
  return new Promise((resolve) => {
    execFile(
      'script',
      ['--quiet', '--return', '--command', command, '/dev/null'],
      { cwd: root, env: { PATH: process.env.PATH ?? '', TERM: 'xterm', COLUMNS: '120', ...env }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr }),
    );
  });
}
