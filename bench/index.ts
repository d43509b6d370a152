// npm run bench: every benchmark in its own process, so one's memory never counts in another's.
// Each takes its own options when run alone, e.g. `npx tsx bench/csv.ts --big`.
import { spawnSync } from 'node:child_process';

const BENCHES = ['bench/csv.ts', 'bench/image.ts', 'bench/orchestration.ts'];
let failed = 0;
for (const bench of BENCHES) {
  console.log(`\n=== ${bench} ===`);
  const run = spawnSync(process.execPath, ['--import', 'tsx', bench], {
    stdio: 'inherit',
  });
  if (run.status !== 0) failed++;
}
process.exitCode = failed === 0 ? 0 : 1;
