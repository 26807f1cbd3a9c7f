// The service's version, read once from package.json (found from this file in
// both the source tree, src/, and the compiled dist/src/ tree).
import { existsSync, readFileSync } from 'node:fs';

const path = ['../package.json', '../../package.json'].map((relative) => new URL(relative, import.meta.url)).find(existsSync);
export const SERVICE_VERSION: string =
  path === undefined ? '0.0.0' : (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
