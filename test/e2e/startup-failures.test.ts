// A server that cannot start says why, once and plainly, and exits 1: never
// an "unhandled promise rejection", never the connection string's password.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import { freePort } from '../../tools/bench/end-to-end.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

async function start(
  env: Record<string, string>,
): Promise<{ code: number | null; lines: { level: string; msg: string }[]; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(await freePort()), LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const lines = output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: string; msg: string });
  return { code, lines, output };
}

describe.concurrent('start-up failures', () => {
  it('logs a MongoDB authentication (SASL) failure as such and exits 1, without the password', async () => {
    const uri = new URL(inject('mongoUri'));
    uri.username = 'order-generation';
    uri.password = 'not-the-password-42';
    const { code, lines, output } = await start({ MONGODB_URI: uri.toString(), MONGODB_TIMEOUT_MS: '3000' });
    expect(code).toBe(1);
    const fatal = lines.filter((l) => l.level === 'fatal' || (l.level as unknown) === 60);
    expect(fatal.map((l) => l.msg)).toEqual([
      'start-up failed: MongoDB did not accept the credentials of MONGODB_URI (authentication failed); check its user, password and authSource',
    ]);
    expect(output).not.toContain('unhandled');
    expect(output).not.toContain('not-the-password-42');
  });

  it('logs an unreachable MongoDB as such and exits 1', async () => {
    const { code, lines, output } = await start({ MONGODB_URI: `mongodb://127.0.0.1:${await freePort()}/`, MONGODB_TIMEOUT_MS: '300' });
    expect(code).toBe(1);
    expect(lines.filter((l) => l.msg.startsWith('start-up failed')).map((l) => l.msg)).toEqual([
      'start-up failed: MongoDB could not be reached within MONGODB_TIMEOUT_MS (300 ms); check the host and port of MONGODB_URI and that the server is up',
    ]);
    expect(output).not.toContain('unhandled');
  });
});
