// Starts the database for development and tests: MONGODB_URI when given; else
// a MongoDB 8 container when a Docker engine answers; else the embedded
// jongodb server (a MongoDB-compatible wire server, single-node replica-set
// profile). Never used in production, where MONGODB_URI is set.
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from './config.js';

export interface DevDatabase {
  readonly uri: string;
  readonly kind: 'external' | 'container' | 'embedded';
  stop(): Promise<void>;
}

const DOCKER_SOCKET = '/var/run/docker.sock';
const READY_TIMEOUT_MS = 60_000;

function dockerAnswers(): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath: DOCKER_SOCKET, path: '/_ping', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

async function startContainer(): Promise<DevDatabase | undefined> {
  const module = await import('@testcontainers/mongodb').catch(() => undefined);
  if (module === undefined) return undefined; // a production install has no testcontainers
  const container = await new module.MongoDBContainer('mongo:8').start();
  return {
    uri: `${container.getConnectionString()}?directConnection=true`,
    kind: 'container',
    stop: () => container.stop().then(() => undefined),
  };
}

/**
 * The embedded server. `standalone` (tests only) has no replica-set answer, so
 * a client can reach it through a relay with directConnection.
 */
export async function startEmbedded(profile: 'replica-set' | 'standalone' = 'replica-set'): Promise<DevDatabase> {
  let binary: string;
  try {
    const manifest = createRequire(import.meta.url).resolve('@jongodb/memory-server-bin-linux-x64-gnu/package.json');
    binary = join(dirname(manifest), 'bin', 'jongodb');
  } catch {
    throw new Error(
      'No database: MONGODB_URI is unset, no Docker engine answers, and the embedded server ' +
        '(@jongodb/memory-server-bin-linux-x64-gnu, linux x64 glibc only) is not installed',
    );
  }
  const args = ['--host=127.0.0.1', '--port=0'];
  if (profile === 'replica-set') args.push('--topology-profile=singleNodeReplicaSet');
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  let stdout = '';
  let stderr = '';
  const onStderr = (chunk: Buffer) => {
    stderr += chunk.toString();
  };
  child.stderr.on('data', onStderr);
  let timer: NodeJS.Timeout | undefined;
  const uri = await new Promise<string>((resolve, reject) => {
    timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the embedded database did not start within ${READY_TIMEOUT_MS} ms`));
    }, READY_TIMEOUT_MS);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /JONGODB_URI=(\S+)/.exec(stdout);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      reject(new Error(`the embedded database exited (code ${String(code)}) before it was ready: ${stderr.trim()}`));
    });
  }).finally(() => clearTimeout(timer));
  // Ready: stop collecting its output (it is still drained, so the pipes never fill).
  child.stdout.removeAllListeners('data');
  child.stderr.removeListener('data', onStderr);
  child.stdout.resume();
  child.stderr.resume();

  return {
    uri,
    kind: 'embedded',
    stop: async () => {
      process.removeListener('exit', killOnExit);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * The configuration with a database: as given when MONGODB_URI is set, else
 * pointing at a development database started here (with a warning that says so).
 */
export async function withDevDatabaseIfUnset(config: Config, log: Logger): Promise<{ config: Config; database: DevDatabase | undefined }> {
  if (config.mongodb.uri !== undefined) return { config, database: undefined };
  const database = await startDevDatabase();
  log.warn(
    { database: database.kind, uri: database.uri },
    'MONGODB_URI is not set: using a throw-away development database that is lost on exit. ' +
      'This is for development only; set MONGODB_URI in any real deployment.',
  );
  return { config: { ...config, mongodb: { ...config.mongodb, uri: database.uri } }, database };
}

export async function startDevDatabase(uri?: string): Promise<DevDatabase> {
  if (uri !== undefined) return { uri, kind: 'external', stop: async () => {} };
  if (await dockerAnswers()) {
    const container = await startContainer();
    if (container !== undefined) return container;
  }
  return startEmbedded();
}
