// Per-file orchestration overhead offline, warm: end-to-end time per file (upload acknowledged →
// outcome recorded) minus the time inside the transforms themselves (the image Map or the CSV
// Parallel). The transform time is the reference it is printed beside.
// Run: npm run bench -- overhead [--files N]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { GetExecutionHistoryCommand } from '@aws-sdk/client-sfn';
import sharp from 'sharp';
import { LocalStack } from '#local/stack/stack.ts';
import { runFiles } from '../cli/ops/run-files.ts';

const { values } = parseArgs({ options: { files: { type: 'string', default: '20' } } });
const count = Number(values.files);
const TRANSFORMS = new Set(['ResizeVariants', 'CheckCsv']);

const median = (numbers: readonly number[]) =>
  [...numbers].sort((a, b) => a - b)[Math.floor(numbers.length / 2)] ?? Number.NaN;

const png = await sharp({
  create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 90, b: 40 } },
})
  .png()
  .toBuffer();
/** Small files of both kinds, each distinct so that none is a duplicate of another. */
const fileAt = (round: string, i: number): [string, Buffer] =>
  i % 2 === 0
    ? [`photos/${round}-${i}.png`, Buffer.concat([png, Buffer.from(`${round}${i}`)])]
    : [`tables/${round}-${i}.csv`, Buffer.from(`id,name\n${i},row ${round}\n`)];

/** Time inside the transforms, from the execution's history. */
async function transformMs(stack: LocalStack, executionArn: string): Promise<number> {
  const { events = [] } = await stack.sfn.send(new GetExecutionHistoryCommand({ executionArn }));
  let total = 0;
  let entered = 0;
  for (const event of events) {
    const at = event.timestamp?.getTime() ?? 0;
    if (TRANSFORMS.has(event.stateEnteredEventDetails?.name ?? '')) entered = at;
    if (TRANSFORMS.has(event.stateExitedEventDetails?.name ?? '')) total += at - entered;
  }
  return total;
}

const work = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
const stack = await LocalStack.start();
try {
  // Warm every function once: cold starts are not orchestration overhead.
  for (let i = 0; i < 4; i++) {
    const [path, data] = fileAt('warm', i);
    writeFileSync(join(work, path.replace('/', '-')), data);
  }
  await runFiles(stack, work);

  const totals: number[] = [];
  const transforms: number[] = [];
  for (let i = 0; i < count; i++) {
    const [path, data] = fileAt('one', i);
    const key = `incoming/${path}`;
    await stack.s3.send(
      new PutObjectCommand({ Bucket: stack.names.bucketName, Key: key, Body: data }),
    );
    const uploaded = Date.now();
    await stack.waitForIdle();
    const [item] = await stack.ledger.history(stack.names.bucketName, key);
    if (!item?.finishedAt) throw new Error(`${key} has no outcome`);
    totals.push(Date.parse(item.finishedAt) - uploaded);
    transforms.push(await transformMs(stack, item.executionId));
  }
  const overheads = totals.map((total, i) => total - (transforms[i] ?? 0));

  console.log(
    `\norchestration overhead offline: ${count} small PNGs and CSVs, one at a time, warm`,
  );
  console.table({
    'end-to-end per file (median)': { ms: median(totals) },
    'inside the transforms (reference, median)': { ms: median(transforms) },
    'orchestration overhead (median)': { ms: median(overheads) },
  });
  console.log(`overhead / transform ratio: ${(median(overheads) / median(transforms)).toFixed(2)}`);
} finally {
  await stack.close();
  rmSync(work, { recursive: true, force: true });
}
