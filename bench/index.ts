// npm run bench: every benchmark in its own process, so one's memory never counts in another's.
// `npm run bench -- <name> [options]` runs one, with its options, e.g. `npm run bench -- csv --big`.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** The benches `npm run bench` runs with no name; the slow ones run only when named. */
const DEFAULT = ['csv', 'image', 'orchestration', 'overhead', 'startup'];

const [name, ...options] = process.argv.slice(2);
if (name !== undefined && !existsSync(`bench/${name}.ts`)) {
  console.error(`no bench named ${name}: see the files in bench/`);
  process.exit(2);
}
let failed = 0;
for (const bench of name === undefined ? DEFAULT : [name]) {
  console.log(`\n=== bench/${bench}.ts ===`);
  const run = spawnSync(process.execPath, ['--import', 'tsx', `bench/${bench}.ts`, ...options], {
    stdio: 'inherit',
  });
  if (run.status !== 0) failed++;
}
process.exitCode = failed === 0 ? 0 : 1;
