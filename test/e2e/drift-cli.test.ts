// `order-generation drift model|portfolio <id>` (issue 18), spawned as a real
// process against the test database and a simulator: a table worst first, or JSON.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, runCli } from '../helpers/cli.js';
import { pid, position, sid } from '../helpers/fixtures.js';
import { createWorld, type World } from '../helpers/rebalancing.js';

let w: World;
let env: Record<string, string>;
let modelId: string;
beforeAll(async () => {
  w = await createWorld();
  w.security(sid('a'), 'AAA', '50');
  w.security(sid('b'), 'BBB', '100');
  w.holdings(pid('near'), {
    cash: '450',
    securities: [
      { securityId: sid('a'), quantity: '61' },
      { securityId: sid('b'), quantity: '25' },
    ],
  }); // 50 off A
  w.holdings(pid('far'), { cash: '10000', securities: [] }); // all cash
  w.holdings(pid('zero'), {
    cash: '400',
    securities: [
      { securityId: sid('a'), quantity: '60' },
      { securityId: sid('b'), quantity: '30' },
    ],
  });
  // MV 6 000 / 10 000 / 6 400; A 50% ±2%, B 45% ±2%.
  modelId = await w.model('Cli drift', [position(sid('a'), '0.5'), position(sid('b'), '0.45')], [pid('near'), pid('far'), pid('zero')]);
  env = cliEnv(w);
});
afterAll(async () => {
  await w.close();
});

describe('order-generation drift', () => {
  it('prints a model table worst first, JSON with --json, and a portfolio table', async () => {
    const [table, asJson, one, bad] = await Promise.all([
      runCli(['drift', 'model', modelId, '--summary'], env),
      runCli(['drift', 'model', modelId, '--json'], env),
      runCli(['drift', 'portfolio', pid('near'), '--summary'], env),
      runCli(['drift', 'account', 'x'], env),
    ]);
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toBe(`Model Cli drift (${modelId}): 3 portfolios, 0 in band, 3 out of band, 0 not valued`);
    expect(lines[1]).toMatch(/^PORTFOLIO\s+NAME\s+STATUS\s+TOTAL DRIFT\s+OUT OF BAND\s+MARKET VALUE\s+REASON$/);
    // far: (5 000 + 4 500) / 10 000 = 0.95; zero: |3 200 − 3 000| + |2 880 − 3 000| = 320 / 6 400 = 0.05;
    // near: |3 000 − 3 050| + |2 700 − 2 500| = 250 / 6 000 = 0.041666…
    expect(
      lines.slice(3).map((l) =>
        l
          .split(/\s+/)
          .slice(0, 1)
          .concat(l.match(/(0\.\d+|0)\s+\d+\s/)![1]!),
      ),
    ).toEqual([
      [pid('far'), '0.95'],
      [pid('zero'), '0.05'],
      [pid('near'), '0.041667'],
    ]);
    expect(asJson.code).toBe(0);
    expect(JSON.parse(asJson.stdout).summary).toMatchObject({ portfolios: 3, out_of_band: 3 });
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toContain(`Portfolio ${pid('near')}`);
    expect(one.stdout).toContain('total drift 0.041667');
    // B drifts more (−200 / 6 000 = −0.033333) than A (50 / 6 000 = 0.008333): it comes first.
    const rows = one.stdout.trim().split('\n').slice(3);
    expect(rows.map((r) => r.split(/\s+/)[0])).toEqual([sid('b'), sid('a')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('Usage:');
  }, 120_000);
});
