// The service's version, read once from package.json (found from this file in
// both the source tree and the compiled dist/ tree).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageJson(start: string): string | undefined {
  let dir = start;
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

const path = findPackageJson(dirname(fileURLToPath(import.meta.url)));
export const SERVICE_VERSION: string =
  path === undefined ? '0.0.0' : (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
