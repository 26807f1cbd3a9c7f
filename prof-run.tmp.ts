import { spawn } from 'node:child_process';
import { startSimulator } from './tools/simulator/simulator.ts';
import { benchModelPositions, freePort } from './tools/bench/end-to-end.ts';
const sim = await startSimulator({ seed: 7, securities: 500, portfolios: 1000, holdings: 100 });
const port = await freePort();
const child = spawn(process.execPath, ['--cpu-prof', '--cpu-prof-dir=/tmp/prof', 'dist/src/server.js'], { env: { ...process.env, ...sim.env(), PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', RATE_LIMIT_MAX: '1000000' }, stdio: ['ignore', 'ignore', 'inherit'] });
const url = `http://127.0.0.1:${port}`;
for (;;) { try { if ((await fetch(`${url}/health/ready`)).ok) break; } catch {} await new Promise(r => setTimeout(r, 100)); }
const created = await fetch(`${url}/api/v1/models`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'B', positions: benchModelPositions(sim), portfolios: sim.book.portfolioIds() }) });
const { model_id } = await created.json() as any;
for (const q of (process.argv[2] ?? '?dry_run=true,?dry_run=true,').split(',')) {
  const t = performance.now();
  const res = await fetch(`${url}/api/v1/model/${model_id}/rebalance${q}`, { method: 'POST' });
  const text = await res.text();
  console.log(q, res.status, ((performance.now() - t) / 1000).toFixed(2), 's', text.length);
}
await new Promise<void>(r => { child.once('exit', () => r()); child.kill('SIGTERM'); });
await sim.stop();
