// `npm run demo` from a fresh clone: spawned as a real process (on the test
// database, stopping after its summary), it rebalances a model through the
// HTTP API and prints a readable summary.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('npm run demo', () => {
  it('rebalances a model of its realistic book and prints trades, drifts, totals and where to look', async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'tools/demo/main.ts', '--exit', '--port', '0'],
        {
          cwd: root,
          env: { PATH: process.env.PATH ?? '', MONGODB_URI: inject('mongoUri'), MONGODB_DB: `test_${randomBytes(6).toString('hex')}` },
          timeout: 120_000,
        },
        (error, out, err) =>
          resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout: out, stderr: err }),
      );
    });
    expect(code).toBe(0);
    expect(stdout).toMatch(/Global Balanced +40 positions, 90\.0% invested, 120 portfolios/);
    expect(stdout).toMatch(/Rebalanced "Global Balanced" .*: 120 portfolios in [\d.]+ s/);
    expect(stdout).toContain('upstream calls: 122 accounting'); // one summary each, /balances for the 2 new ones
    expect(stdout).toMatch(/portfolio +market value +buys sells +drift before +drift after/);
    expect(stdout).toMatch(/Trades of .+, market value [\d,]+:/);
    expect(stdout).toMatch(/portfolios +\d+ rebalanced, \d+ infeasible/);
    expect(stdout).toMatch(/mean drift +[\d.]+% before, [\d.]+% after/);
    expect(stdout).toMatch(/stored rebalance +GET http:\/\/127\.0\.0\.1:\d+\/api\/v1\/rebalance\/[0-9a-f]{24}/);
    expect(stdout).toMatch(/Swagger UI +http:\/\/127\.0\.0\.1:\d+\/docs/);
    expect(stderr).toBe('');
  });
});
