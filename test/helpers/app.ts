// Builds the real app against a fresh database of its own, for one test file.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { inject } from 'vitest';
import { type AppOverrides, buildApp } from '../../src/app.js';
import { type Config, loadConfig } from '../../src/config.js';

export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({
    MONGODB_URI: inject('mongoUri'),
    MONGODB_DB: `test_${randomBytes(6).toString('hex')}`,
    LOG_LEVEL: 'silent',
    ...env,
  });
}

export interface TestApp {
  readonly app: FastifyInstance;
  readonly config: Config;
  request(options: InjectOptions): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export async function createTestApp(env: Record<string, string> = {}, overrides: AppOverrides = {}): Promise<TestApp> {
  const config = testConfig(env);
  const app = await buildApp(config, overrides);
  await app.ready();
  return {
    app,
    config,
    request: (options) => app.inject(options),
    close: async () => {
      await app.close();
    },
  };
}
