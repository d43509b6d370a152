// Crash recovery: `sluice run` over small files, SIGKILLed at random moments and restarted until a
// run completes, against one uninterrupted run of the same files as the reference.
// Run: npm run bench -- crash [--files N] [--kills K] [--seed S]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { AggregateRecord } from '#commons/types.ts';
import { LocalStack } from '#local/stack/stack.ts';
import { writeSmallFiles } from './small-files.ts';

const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '1000' },
    kills: { type: 'string', default: '5' },
    seed: { type: 'string', default: '1' },
  },
});
const count = Number(values.files);
const kills = Number(values.kills);
const FINAL = new Set(['SUCCEEDED', 'QUARANTINED', 'FAILED']);

/** mulberry32: the kill moments repeat for a seed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One `sluice run`; SIGKILLed after `killAfterMs` unless it finished first. */
function run(dir: string, dataDir: string, killAfterMs?: number) {
  const started = Date.now();
  const child = spawn(
    process.execPath,
    ['cli/sluice.js', 'run', dir, '--data-dir', dataDir, '--json'],
    { stdio: ['ignore', 'ignore', 'ignore'] },
  );
  const timer =
    killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  return new Promise<{ code: number | null; killed: boolean; ms: number }>((done) => {
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      done({ code, killed: signal === 'SIGKILL', ms: Date.now() - started });
    });
  });
}

/** What the data dir holds for every uploaded file: final ledger items and aggregate records. */
async function audit(dataDir: string, paths: readonly string[]) {
  const stack = await LocalStack.start({ dataDir });
  try {
    const bucket = stack.names.bucketName;
    let lost = 0;
    let duplicated = 0;
    let succeeded = 0;
    const others: string[] = [];
    for (const path of paths) {
      const items = await stack.ledger.history(bucket, `incoming/${path}`);
      const finals = items.filter((item) => FINAL.has(item.status));
      if (finals.length === 0) lost++;
      if (finals.length > 1) duplicated++;
      if (finals.some((item) => item.status === 'SUCCEEDED')) succeeded++;
      else if (finals[0])
        others.push(
          `${path}: ${finals[0].status} ${finals[0].error?.name}: ${finals[0].error?.message}`,
        );
    }
    const records: AggregateRecord[] = [];
    let token: string | undefined;
    do {
      const page = await stack.s3.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: 'aggregates/',
          ContinuationToken: token,
        }),
      );
      for (const object of page.Contents ?? []) {
        const body = await stack.s3.send(new GetObjectCommand({ Bucket: bucket, Key: object.Key }));
        const text = (await body.Body?.transformToString()) ?? '';
        for (const line of text.split('\n')) if (line) records.push(JSON.parse(line));
      }
      token = page.NextContinuationToken;
    } while (token);
    const perKey = new Map<string, Set<string>>();
    for (const record of records) {
      const ids = perKey.get(record.key) ?? new Set();
      ids.add(record.recordId);
      perKey.set(record.key, ids);
    }
    const missing = paths.filter((path) => !perKey.has(`incoming/${path}`)).length;
    return {
      lost,
      duplicated,
      succeeded,
      others,
      records: records.length,
      distinct: perKey.size,
      missing,
    };
  } finally {
    await stack.close();
  }
}

const work = mkdtempSync(join(tmpdir(), 'sluice-crash-'));
try {
  const files = join(work, 'files');
  const paths = await writeSmallFiles(files, count);

  const reference = await run(files, join(work, 'reference'));
  if (reference.code !== 0) throw new Error(`the uninterrupted run exited ${reference.code}`);

  const next = random(Number(values.seed));
  const dataDir = join(work, 'crashed');
  const attempts: string[] = [];
  let total = 0;
  let killed = 0;
  for (;;) {
    // Kill somewhere in the first quarter of what an uninterrupted run takes, start-up included,
    // so that most restarts are killed again before they finish.
    const at =
      killed < kills ? Math.round(1000 + next() * (reference.ms * 0.25 - 1000)) : undefined;
    const result = await run(files, dataDir, at);
    total += result.ms;
    attempts.push(result.killed ? `killed at ${at} ms` : `completed (exit ${result.code})`);
    if (!result.killed) break;
    killed++;
  }
  const found = await audit(dataDir, paths);

  console.log(`\ncrash recovery: ${count} small files (half CSV, half PNG), ${killed} SIGKILLs`);
  console.log(`runs: ${attempts.join(' → ')}`);
  console.table({
    files: { value: count },
    'SUCCEEDED (a final item says so)': { value: found.succeeded },
    'lost (no final status)': { value: found.lost, target: 0 },
    'duplicated (more than one final item)': { value: found.duplicated, target: 0 },
    'files missing from the aggregates': { value: found.missing, target: 0 },
    'aggregate records (distinct files)': { value: `${found.records} (${found.distinct})` },
    'aggregate records per file': { value: (found.records / count).toFixed(3) },
  });
  // Every generated file is valid: any other final status is the crash's doing.
  for (const other of found.others) console.log(`not SUCCEEDED: ${other}`);
  console.log(
    `wall: ${(total / 1000).toFixed(1)} s with the kills, ${(reference.ms / 1000).toFixed(1)} s uninterrupted (reference): ratio ${(total / reference.ms).toFixed(2)}`,
  );
  process.exitCode =
    found.lost + found.duplicated + found.missing + found.others.length === 0 ? 0 : 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
