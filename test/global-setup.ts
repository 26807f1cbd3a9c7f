// Starts one database server for the whole run (MONGODB_URI, a container, or
// the embedded server) and hands its URI to the test files; each file then
// works in a database of its own.
import type { TestProject } from 'vitest/node';
import { loadConfig } from '../src/config.js';
import { type DevDatabase, startDevDatabase } from '../src/dev-database.js';

declare module 'vitest' {
  export interface ProvidedContext {
    mongoUri: string;
  }
}

let database: DevDatabase | undefined;

export async function setup(project: TestProject): Promise<void> {
  database = await startDevDatabase(loadConfig().mongodb.uri);
  project.provide('mongoUri', database.uri);
}

export async function teardown(): Promise<void> {
  await database?.stop();
}
