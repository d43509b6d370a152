// Start-up and idle figures of the CLI: how long a command takes to start and answer `--help`,
// beside a bare `node -e 0` measured in the same run (the floor no Node CLI can go under), and
// how much memory an idle `sluice up` holds once it is ready.
// Run: npm run bench -- startup [--runs N]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sluiceUp } from './sluice-up.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '15' } } });
const runs = Number(values.runs);
const HELP_TARGET_MS = 120;
const IDLE_TARGET_MB = 150;
const SETTLE_MS = 2000;

const median = (numbers: readonly number[]) =>
  [...numbers].sort((a, b) => a - b)[Math.floor(numbers.length / 2)] ?? Number.NaN;

/** Wall milliseconds of one process, start to exit. */
function wallMs(args: readonly string[]): number {
  const started = performance.now();
  const run = spawnSync(process.execPath, args, { stdio: 'ignore' });
  if (run.status !== 0) throw new Error(`node ${args.join(' ')} exited ${run.status}`);
  return performance.now() - started;
}

/** Medians of a command and of bare Node, run in turn so that a drifting machine hits both. */
function startup(args: readonly string[]): { ms: number; nodeMs: number } {
  wallMs(args); // the first start may build the CLI bundle: not a start-up
  const ours: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < runs; i++) {
    ours.push(wallMs(args));
    bare.push(wallMs(['-e', '0']));
  }
  return { ms: median(ours), nodeMs: median(bare) };
}

const commands = {
  'sluice --help': ['cli/sluice.js', '--help'],
  'sluice run --help': ['cli/sluice.js', 'run', '--help'],
  'sluice executions --help': ['cli/sluice.js', 'executions', '--help'],
};
const table: Record<string, Record<string, string>> = {};
for (const [name, args] of Object.entries(commands)) {
  const { ms, nodeMs } = startup(args);
  table[name] = {
    ms: ms.toFixed(0),
    'node -e 0 ms': nodeMs.toFixed(0),
    ratio: (ms / nodeMs).toFixed(2),
    'over node ms': (ms - nodeMs).toFixed(0),
  };
}
console.log(`\nstart-up: median wall of ${runs} runs each, bare Node alternated with each`);
console.table(table);
console.log(`target: any command's start-up ≤ ${HELP_TARGET_MS} ms`);

// Linux only: the resident set of the idle service, read from /proc.
const residentKb = (status: string) => Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1]);
const dataDir = mkdtempSync(join(tmpdir(), 'sluice-startup-'));
try {
  const { child } = await sluiceUp(dataDir);
  try {
    await new Promise((settle) => setTimeout(settle, SETTLE_MS));
    const rssKb = residentKb(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
    const bareKb = residentKb(
      spawnSync(
        process.execPath,
        ['-e', "process.stdout.write(require('fs').readFileSync('/proc/self/status', 'utf8'))"],
        { encoding: 'utf8' },
      ).stdout,
    );
    console.log(`\nidle sluice up, ${SETTLE_MS / 1000} s after ready, console and API on`);
    console.table({
      'sluice up': { 'RSS MB': (rssKb / 1024).toFixed(0) },
      'node -e (bare Node, reference)': { 'RSS MB': (bareKb / 1024).toFixed(0) },
    });
    console.log(
      `ratio ${(rssKb / bareKb).toFixed(1)}; target: idle sluice up ≤ ${IDLE_TARGET_MB} MB`,
    );
  } finally {
    child.kill('SIGINT');
    await new Promise((exited) => child.once('exit', exited));
  }
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
