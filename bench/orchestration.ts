// Per-file orchestration overhead offline: end-to-end time per file (S3 event → execution
// stopped) minus the time inside the transforms themselves (the image Map or the CSV Parallel),
// beside the transform time as the reference. Run: npx tsx bench/orchestration.ts [--files N]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GetExecutionHistoryCommand } from '@aws-sdk/client-sfn';
import sharp from 'sharp';
import { runFiles } from '../local/run-files.ts';
import { LocalStack } from '../local/stack.ts';

const { values } = parseArgs({ options: { files: { type: 'string', default: '40' } } });
const count = Number(values.files);
const TRANSFORMS = new Set(['ResizeVariants', 'CheckCsv']);

const median = (numbers: number[]) => {
  const sorted = [...numbers].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

async function makeFiles(dir: string, round: string): Promise<void> {
  mkdirSync(join(dir, 'photos'), { recursive: true });
  mkdirSync(join(dir, 'tables'), { recursive: true });
  const png = await sharp({
    create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 90, b: 40 } },
  })
    .png()
    .toBuffer();
  for (let i = 0; i < count / 2; i++) {
    // A distinct byte per file, so no upload is a duplicate of another.
    writeFileSync(
      join(dir, 'photos', `p${round}-${i}.png`),
      Buffer.concat([png, Buffer.from([i])]),
    );
    writeFileSync(join(dir, 'tables', `t${round}-${i}.csv`), `id,name\n${i},row ${round}\n`);
  }
}

const work = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
const stack = await LocalStack.start();
try {
  // Warm every function once: cold starts are not orchestration overhead.
  await makeFiles(join(work, 'warm'), 'warm');
  await runFiles(stack, join(work, 'warm'));

  // Latency: one file at a time, so no file waits behind another for a warm function.
  const outcomes = [];
  for (const kind of ['photos', 'tables']) {
    for (let i = 0; i < count / 2; i++) {
      const one = join(work, `one-${kind}-${i}`);
      await makeFiles(join(one, 'all'), `one${i}`);
      rmSync(join(one, 'all', kind === 'photos' ? 'tables' : 'photos'), { recursive: true });
      for (const [n, file] of (await readdir(join(one, 'all', kind))).entries()) {
        if (n > 0) rmSync(join(one, 'all', kind, file));
      }
      outcomes.push(...(await runFiles(stack, join(one, 'all'))));
    }
  }

  // Throughput: a whole batch at once.
  await makeFiles(join(work, 'batch'), 'batch');
  const started = Date.now();
  const batch = await runFiles(stack, join(work, 'batch'));
  const wall = Date.now() - started;

  const overheads: number[] = [];
  const transforms: number[] = [];
  const totals: number[] = [];
  for (const outcome of outcomes) {
    const [item] = await stack.ledger.history(stack.names.bucketName, outcome.key);
    if (!item?.finishedAt || !outcome.executionId) continue;
    const { events = [] } = await stack.sfn.send(
      new GetExecutionHistoryCommand({ executionArn: outcome.executionId }),
    );
    let transform = 0;
    let entered = 0;
    for (const event of events) {
      const at = event.timestamp?.getTime() ?? 0;
      if (TRANSFORMS.has(event.stateEnteredEventDetails?.name ?? '')) entered = at;
      if (TRANSFORMS.has(event.stateExitedEventDetails?.name ?? '')) transform += at - entered;
    }
    const total = Date.parse(item.finishedAt) - Date.parse(item.receivedAt);
    totals.push(total);
    transforms.push(transform);
    overheads.push(total - transform);
  }

  const overhead = median(overheads);
  const transform = median(transforms);
  console.log(
    `\norchestration overhead, offline (${outcomes.length} files one at a time: small PNGs and CSVs, warm)`,
  );
  console.table({
    'end-to-end per file (median)': { ms: median(totals) },
    'inside the transforms (reference, median)': { ms: transform },
    'orchestration overhead (median)': { ms: overhead },
  });
  console.log(`overhead / transform ratio: ${(overhead / transform).toFixed(2)}`);
  console.log(
    `throughput: ${batch.length} files at once in ${wall} ms (${(wall / batch.length).toFixed(1)} ms per file)`,
  );
} finally {
  await stack.close();
  rmSync(work, { recursive: true, force: true });
}
