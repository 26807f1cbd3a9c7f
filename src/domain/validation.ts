// Turns schema failures into the readable sentences of api.md
// ("positions[2].target must be 0 or a multiple of 0.005"). Every zod message
// in this code base is a predicate; the subject (the field's path) is added here.
import { z } from 'zod';
import type { ErrorDetail } from './errors.js';

const article = (noun: string) => (/^[aeiou]/.test(noun) ? `an ${noun}` : `a ${noun}`);

z.config({
  customError: (issue) => {
    switch (issue.code) {
      case 'invalid_type':
        if (issue.input === undefined) return 'is required';
        return `must be ${article(issue.expected === 'int' ? 'integer' : String(issue.expected))}`;
      case 'unrecognized_keys':
        return 'is not a known field';
      case 'too_small':
      case 'too_big': {
        const bound = issue.code === 'too_small' ? `at least ${String(issue.minimum)}` : `at most ${String(issue.maximum)}`;
        if (issue.origin === 'string' || issue.origin === 'array')
          return `must have ${bound} ${issue.origin === 'string' ? 'characters' : 'items'}`;
        return `must be ${bound}`;
      }
      case 'invalid_value':
        return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
      case 'invalid_format':
        return 'has an invalid format';
      default:
        return 'is invalid';
    }
  },
});

export type PathSegment = string | number;

/** `['positions', 2, 'target']` -> `positions[2].target` (how the message names a field). */
export function readablePath(path: readonly PathSegment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? segment : `.${segment}`;
  }
  return out;
}

/** A problem of the field at `path`: its `details[].path` is dotted (`positions.2.target`), its sentence names it readably. */
export function detail(path: readonly PathSegment[], predicate: string, subject?: string): ErrorDetail {
  const name = readablePath(path);
  return { path: path.join('.'), message: `${name === '' ? (subject ?? 'the value') : name} ${predicate}` };
}

/** One sentence for a list of problems: the first, and how many more there are. */
export function summarise(details: readonly ErrorDetail[]): string {
  const [first] = details;
  if (first === undefined) return 'The request is invalid';
  const rest = details.length - 1;
  return rest === 0 ? first.message : `${first.message} (and ${rest} more problem${rest === 1 ? '' : 's'})`;
}
