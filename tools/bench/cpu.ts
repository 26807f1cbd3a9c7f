// CPU time from /proc (Linux), apart from the benchmarks' other helpers: a fresh process that measures itself
// (upstream-path.ts) loads nothing else with it.
import { readFile } from 'node:fs/promises';

/** CPU seconds (user + system) a process, or one of its threads, has used so far (Linux). */
export async function cpuSeconds(pid: number, thread?: number): Promise<number> {
  const stat = await readFile(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
