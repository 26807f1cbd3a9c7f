// A preload for the service that samples every allocation, collected or not,
// and writes the profile when the service is stopped (SIGTERM):
//   BENCH_SERVICE_NODE_ARGS="--import ./tools/bench/heap-sample.mjs" npx tsx tools/bench/repeat.ts rebalance
// writes /tmp/heap-<pid>.heapprofile (HEAP_PROFILE_DIR to change), which Chrome DevTools opens.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const session = new Session();
session.connect();
session.post('HeapProfiler.enable');
session.post('HeapProfiler.startSampling', {
  samplingInterval: 32768,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
});
process.prependListener('SIGTERM', () => {
  session.post('HeapProfiler.stopSampling', (error, result) => {
    if (error === null)
      writeFileSync(join(process.env.HEAP_PROFILE_DIR ?? tmpdir(), `heap-${process.pid}.heapprofile`), JSON.stringify(result.profile));
  });
});
