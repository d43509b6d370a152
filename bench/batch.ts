// Scheduled batches: small files already in the bucket of a `sluice up`, reprocessed by
// `sluice batch --reprocess`, beside the reference measured in the same run: the same files
// through the event path (uploaded, each starting its own execution). Then a default batch over
// the same prefix, where every version already has a final status and is skipped.
// Reports wall time, files per second, the service's peak RSS during the batch, and the highest
// number of ProcessFile children running at once, which must not pass MaxConcurrency.
// Run: npm run bench -- batch [--files N] [--max-concurrency N]
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import type { BatchSummary } from '#commons/batch.ts';
import { sluiceUp } from './sluice-up.ts';
import { writeSmallFiles } from './small-files.ts';

// The SDK warns at its first client on Node 20 about its 2027 releases, as the CLI's does not.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '5000' },
    'max-concurrency': { type: 'string', default: '10' },
  },
});
const count = Number(values.files);
const maxConcurrency = Number(values['max-concurrency']);
if (!Number.isInteger(count) || count < 2 || !Number.isInteger(maxConcurrency)) {
  console.error('usage: batch [--files N] [--max-concurrency N], whole numbers');
  process.exit(2);
}

const sleep = (ms: number) => new Promise((wake) => setTimeout(wake, ms));

/** `sluice <args>` to its end; its stdout, or a failure with its stderr. */
function sluice(args: readonly string[]): Promise<string> {
  const child = spawn(process.execPath, ['cli/sluice.js', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr = (stderr + chunk).slice(-2000)));
  return new Promise((done, fail) =>
    child.on('close', (code) =>
      code === 0 ? done(stdout) : fail(new Error(`sluice ${args[0]} exited ${code}: ${stderr}`)),
    ),
  );
}

/** Resident MB of a process now, from /proc. */
function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

const work = mkdtempSync(join(tmpdir(), 'sluice-batch-bench-'));
let service: ChildProcess | undefined;
try {
  const files = join(work, 'files');
  const dataDir = join(work, 'data');
  await writeSmallFiles(files, count, { invalidCsvShare: 0.02 });
  service = (await sluiceUp(dataDir)).child;
  const info = JSON.parse(readFileSync(join(dataDir, 'endpoint.json'), 'utf8'));
  const client = {
    endpoint: info.endpoint,
    region: info.region,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  };
  const sfn = new SFNClient(client);
  const dynamodb = new DynamoDBClient(client);
  const running = async () => {
    let n = 0;
    let nextToken: string | undefined;
    do {
      const page = await sfn.send(
        new ListExecutionsCommand({
          stateMachineArn: info.stateMachines.ProcessFile,
          statusFilter: 'RUNNING',
          maxResults: 1000,
          nextToken,
        }),
      );
      n += page.executions?.length ?? 0;
      nextToken = page.nextToken;
    } while (nextToken);
    return n;
  };
  const finished = async () => {
    let n = 0;
    let start: Record<string, never> | undefined;
    do {
      const page = await dynamodb.send(
        new ScanCommand({
          TableName: info.table,
          Select: 'COUNT',
          FilterExpression: '#s IN (:a, :b, :c)',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: {
            ':a': { S: 'SUCCEEDED' },
            ':b': { S: 'QUARANTINED' },
            ':c': { S: 'FAILED' },
          },
          ExclusiveStartKey: start,
        }),
      );
      n += page.Count ?? 0;
      start = page.LastEvaluatedKey as typeof start;
    } while (start);
    return n;
  };

  // The reference: the same files through the event path, one execution per upload.
  let started = performance.now();
  await sluice(['upload', files, '--data-dir', dataDir, '-o', 'json']);
  while ((await finished()) < count || (await running()) > 0) await sleep(1000);
  const eventSeconds = (performance.now() - started) / 1000;

  // Ours: the batch, sampled for memory and concurrent children while it runs.
  let peakMb = 0;
  let peakChildren = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peakMb = Math.max(peakMb, rssMb(service?.pid ?? 0));
      peakChildren = Math.max(peakChildren, await running());
      await sleep(100);
    }
  })().catch((error) => {
    // The service went away under it: the batch's own failure says why.
    if (sampling) console.error(`sampling stopped: ${error}`);
  });
  started = performance.now();
  const reprocess: BatchSummary = JSON.parse(
    await sluice([
      'batch',
      'incoming/',
      '--reprocess',
      '--max-concurrency',
      String(maxConcurrency),
      '--data-dir',
      dataDir,
      '-o',
      'json',
    ]),
  );
  sampling = false;
  const batchSeconds = (performance.now() - started) / 1000;
  await sampler;

  started = performance.now();
  const skipped: BatchSummary = JSON.parse(
    await sluice(['batch', 'incoming/', '--data-dir', dataDir, '-o', 'json']),
  );
  const skipSeconds = (performance.now() - started) / 1000;

  console.log(
    `\nscheduled batches: ${count} small files (half CSVs of 20 rows, 2 % of them invalid, half 64×48 PNGs)`,
  );
  console.table({
    'reference: the event path (upload, one execution each)': {
      s: eventSeconds.toFixed(1),
      'files/s': (count / eventSeconds).toFixed(1),
    },
    [`sluice batch --reprocess, MaxConcurrency ${maxConcurrency}`]: {
      s: batchSeconds.toFixed(1),
      'files/s': (count / batchSeconds).toFixed(1),
    },
    'sluice batch (default: every version skipped)': {
      s: skipSeconds.toFixed(1),
      'files/s': (count / skipSeconds).toFixed(1),
    },
  });
  console.log(`batch / event path: ${(batchSeconds / eventSeconds).toFixed(2)}`);
  console.log(`peak RSS of sluice up during the batch: ${peakMb.toFixed(0)} MB`);
  console.log(
    `most ProcessFile children running at once: ${peakChildren} (MaxConcurrency ${maxConcurrency}): ${peakChildren <= maxConcurrency ? 'MET' : 'MISSED'}`,
  );
  console.log(`--reprocess counts: ${JSON.stringify(reprocess.counts)} of ${reprocess.files}`);
  console.log(`default counts: ${JSON.stringify(skipped.counts)} of ${skipped.files}`);
  sfn.destroy();
  dynamodb.destroy();
} finally {
  service?.kill('SIGTERM');
  await sleep(500);
  rmSync(work, { recursive: true, force: true });
}
