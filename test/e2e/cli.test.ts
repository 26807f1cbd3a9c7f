// The operations command line, spawned as a real process against the test
// database and a simulator: exit codes, JSON on stdout, logs and errors on stderr.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, runCli, runCliInTerminal } from '../helpers/cli.js';
import { expectStatus, json, pid, position, sid } from '../helpers/fixtures.js';
import { createWorld, type World } from '../helpers/rebalancing.js';

let w: World;
let env: Record<string, string>;
const cli = (args: string[]) => runCli(args, env);

let modelId: string;
beforeAll(async () => {
  w = await createWorld();
  w.security(sid('cli'), 'CLI', '25');
  for (const p of ['k0', 'k1']) w.holdings(pid(p), { cash: '10000', securities: [] });
  modelId = await w.model('Command line', [position(sid('cli'), '0.5')], [pid('k0'), pid('k1')]);
  env = cliEnv(w);
});
afterAll(async () => {
  await w.close();
});

const stored = () => w.t.request({ method: 'GET', url: '/api/v1/rebalances' });

describe('the CLI', () => {
  it('prints usage and exits 2 on bad arguments, without touching anything', async () => {
    const bad = [
      [],
      ['rebalance', 'model'],
      ['rebalance', 'account', 'x'],
      ['--once', 'extra'],
      ['--frobnicate'],
      ['drift', 'model', 'x', '--dry-run'],
    ];
    const runs = await Promise.all(bad.map((args) => cli(args)));
    runs.forEach((run, i) => {
      expect(run.code, bad[i]!.join(' ')).toBe(2);
      expect(run.stderr).toContain('Usage:');
      expect(run.stdout).toBe('');
    });
    expect(JSON.parse((await stored()).body)).toEqual([]);
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('order-generation --once');
  });

  it('exits 2 with the variable named when the configuration is invalid', async () => {
    const saved = env;
    env = { ...env, REBALANCE_CONCURRENCY: 'many' };
    try {
      const run = await cli(['--once']);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('REBALANCE_CONCURRENCY');
    } finally {
      env = saved;
    }
  });

  it('rebalances a portfolio as a dry run: the answer as JSON on stdout, nothing stored', async () => {
    const run = await cli(['rebalance', 'portfolio', pid('k0'), '--dry-run']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const answer = JSON.parse(run.stdout);
    expect(answer).toMatchObject({
      portfolio_id: pid('k0'),
      rebalance_id: null,
      transactions: [{ security_id: sid('cli'), transaction_type: 'BUY', quantity: 200 }],
    });
    expect(JSON.parse((await stored()).body)).toEqual([]);
  });

  it('works with API_KEYS set: the command line is authorised by the configured key', async () => {
    const saved = env;
    env = { ...env, API_KEYS: 'cli-operator-key' };
    try {
      const run = await cli(['rebalance', 'portfolio', pid('k0'), '--dry-run']);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ portfolio_id: pid('k0'), rebalance_id: null });
    } finally {
      env = saved;
    }
  });

  it('rebalances a model and stores it; the stored rebalance is readable through the API', async () => {
    const run = await cli(['rebalance', 'model', modelId]);
    expect(run.code).toBe(0);
    const answer = JSON.parse(run.stdout) as { portfolio_id: string; rebalance_id: string }[];
    expect(answer.map((a) => a.portfolio_id)).toEqual([pid('k0'), pid('k1')]);
    const res = await w.t.request({ method: 'GET', url: `/api/v1/rebalance/${answer[0]!.rebalance_id}` });
    expectStatus(res, 200);
  });

  it('exits 1 with the error in the one error shape on stderr when the rebalance fails', async () => {
    const missing = await cli(['rebalance', 'model', '0123456789abcdef01234567']);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('');
    expect(JSON.parse(missing.stderr)).toMatchObject({ code: 'NOT_FOUND' });

    await w.sim.down('accounting');
    try {
      const down = await cli(['rebalance', 'portfolio', pid('k1')]);
      expect(down.code).toBe(1);
      expect(JSON.parse(down.stderr)).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', message: expect.stringContaining('Accounting') });
    } finally {
      await w.sim.up('accounting');
    }
  });

  it('--once runs one cycle, prints its record, and exits 0 when it succeeded and 1 when it failed', async () => {
    const ok = await cli(['--once']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ status: 'succeeded', models: 1, portfolios: 2 });

    await w.sim.down('accounting');
    try {
      const failed = await cli(['--once']);
      expect(failed.code).toBe(1);
      expect(JSON.parse(failed.stdout)).toMatchObject({ status: 'failed' });
    } finally {
      await w.sim.up('accounting');
    }
    const cycles = await w.t.request({ method: 'GET', url: '/api/v1/cycles' });
    expect(cycles.headers['x-total-count']).toBe('2');
  });
});

describe("the CLI works on the server's database, and shows its progress", () => {
  it("refuses to start without MONGODB_URI (exit 2), saying how to point it at the server's database", async () => {
    const { MONGODB_URI: _, ...without } = env;
    const commands = [['--once'], ['rebalance', 'model', modelId], ['migrate']];
    const runs = await Promise.all(commands.map((args) => runCli(args, without)));
    for (const [i, run] of runs.entries()) {
      expect(run.code, commands[i]!.join(' ')).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain('MONGODB_URI is not set');
      expect(run.stderr).toContain('MONGODB_URI=mongodb://<host>:27017 MONGODB_DB=order_generation order-generation');
    }
  });

  it('--once with nothing to rebalance says so', async () => {
    const empty = await runCli(['--once'], { ...env, MONGODB_DB: `${env.MONGODB_DB}_empty` });
    expect(empty.code).toBe(0);
    expect(empty.stderr).toContain('Nothing to rebalance: no model in database');
    expect(JSON.parse(empty.stdout)).toMatchObject({ status: 'succeeded', models: 0 });
  });

  it('without a terminal: plain progress lines on stderr, the full JSON on stdout by default, a table with --summary', async () => {
    const run = await cli(['rebalance', 'model', modelId, '--dry-run']);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`model ${modelId} (dry run): rebalancing 2 portfolios`);
    expect(run.stderr).toMatch(new RegExp(`model ${modelId} \\(dry run\\): 2/2 portfolios after \\d+\\.\\d s`));
    expect(run.stderr).not.toContain('\u001b[');
    expect(JSON.parse(run.stdout)).toHaveLength(2);

    const summary = await cli(['rebalance', 'model', modelId, '--dry-run', '--summary']);
    expect(summary.code).toBe(0);
    const lines = summary.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^portfolio\s+name\s+status\s+buys\s+sells\s+error$/);
    expect(lines.slice(2, 4).map((l) => l.split(/\s+/)[0])).toEqual([pid('k0'), pid('k1')]);
    expect(lines[2]).toMatch(/\bok\s+1\s+0$/);
    expect(lines[4]).toBe('2 portfolios, 0 infeasible, 0 in band, 2 trades; dry run: nothing stored');
    expect(await cli(['rebalance', 'model', modelId, '--summary', '--json'])).toMatchObject({ code: 2 });
  });

  it('on a terminal: a progress bar on stderr and the summary table by default; --json still prints the JSON', async () => {
    const run = await runCliInTerminal(['rebalance', 'model', modelId], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`model ${modelId} [░█]+ 2/2 portfolios \\| [\\d.]+/s \\| ETA`));
    expect(run.stdout).toMatch(/portfolio\s+name\s+status\s+buys\s+sells\s+error/);
    expect(run.stdout).toMatch(/2 portfolios, 0 infeasible, 0 in band, \d+ trades?; stored as rebalance [0-9a-f]{24}/);
    const stored = (json(await w.t.request({ method: 'GET', url: '/api/v1/rebalances?limit=1' })) as { rebalance_id: string }[])[0]!;
    expect(run.stdout).toContain(stored.rebalance_id);

    const asJson = await runCliInTerminal(['rebalance', 'portfolio', pid('k0'), '--dry-run', '--json'], env);
    expect(asJson.code).toBe(0);
    expect(asJson.stdout).toContain(`"portfolio_id": "${pid('k0')}"`);
  });
});
