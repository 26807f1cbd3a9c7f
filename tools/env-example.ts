// Writes .env.example from the configuration schema (npm run env:example);
// a unit test fails when the file and src/config.ts disagree.
import { writeFile } from 'node:fs/promises';
import { configVariables } from '../src/config.js';

const lines = [
  '# GlobeCo Order Generation Service: every environment variable, with its default.',
  '# Copy to .env for development (read at start-up outside production). Unset = default.',
];
for (const [name, spec] of Object.entries(configVariables)) {
  lines.push('', `# ${spec.description}`, spec.default === undefined ? `# ${name}=` : `${name}=${spec.default}`);
}
await writeFile(new URL('../.env.example', import.meta.url), `${lines.join('\n')}\n`);
