import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  DescribeMapRunCommand,
  ListExecutionsCommand,
  ListMapRunsCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultLayer } from '#local/faults/fault-layer.ts';
import { parseFaultRules } from '#local/faults/rules.ts';
import { LocalStack } from '#local/stack/stack.ts';
import { batchCommand } from '../../cli/commands/batch.ts';
import { targetFromLocalStack } from '../../cli/ops/target.ts';
import type { BatchSummary } from '../../functions/commons/batch.ts';
import type { LedgerItem } from '../../functions/commons/outcome.ts';
import { RunLedger } from '../../functions/commons/run-ledger.ts';
import { runOps, until } from '../cli/ops-helpers.ts';

// One stack for the file: a dataset with a schema, files the event path processed, one it
// missed (its event dead-lettered while Lambda was down), and a file its schema rejects.
const faults = new FaultLayer();
let stack: LocalStack;

const SCHEMA = { fields: [{ name: 'id', type: 'integer', constraints: { required: true } }] };

async function put(key: string, body: string): Promise<void> {
  await stack.s3.send(
    new PutObjectCommand({ Bucket: stack.names.bucketName, Key: key, Body: body }),
  );
}

const batch = (...args: string[]) =>
  runOps(batchCommand, targetFromLocalStack(stack), [...args, '-o', 'json']);

/** Final ledger items (no PROCESSING, no duplicates) of one key, oldest attempt first. */
async function attempts(key: string): Promise<LedgerItem[]> {
  const items = await stack.ledger.history(stack.names.bucketName, key);
  return items
    .filter((item) => item.status !== 'SKIPPED_DUPLICATE')
    .sort((a, b) => (a.attempt ?? 1) - (b.attempt ?? 1));
}

beforeAll(async () => {
  stack = await LocalStack.start({ retryIntervalMs: 10, faults });
  await put('schemas/orders.json', JSON.stringify(SCHEMA));
  await put('incoming/orders/a.csv', 'id\n1\n');
  await put('incoming/orders/b.csv', 'id\n2\n');
  await put('incoming/orders/bad.csv', 'id\nnot-a-number\n');
  await stack.waitForIdle();
  // The event path misses one upload: every invoke fails until its event is dead-lettered.
  faults.setRules(
    parseFaultRules([
      { service: 'lambda', operation: 'Invoke', error: { code: 'TooManyRequestsException' } },
    ]),
  );
  await put('incoming/orders/missed.csv', 'id\n3\n');
  await until(() => stack.queue.deadLetters.length === 1);
  faults.setRules([]);
}, 120_000);

afterAll(async () => {
  await stack?.close();
});

describe('sluice batch, through ProcessBatch on the local stack', () => {
  let first: BatchSummary;

  it('plans with --dry-run, naming why, and changes nothing', async () => {
    // Act
    const run = await batch('incoming/orders/', '--dry-run');

    // Assess
    expect(run.code).toBe(0);
    const view = JSON.parse(run.stdout);
    expect(view.files).toBe(4);
    expect(view.plan).toEqual(
      expect.arrayContaining([
        { key: 'incoming/orders/missed.csv', action: 'process', reason: 'no attempt yet' },
        {
          key: 'incoming/orders/bad.csv',
          action: 'skip',
          reason: 'already QUARANTINED (attempt 1)',
        },
      ]),
    );
    expect(await attempts('incoming/orders/missed.csv')).toEqual([]);
  });

  it('processes only the version the event path missed, and counts the rest as skipped', async () => {
    // Act
    const run = await batch('incoming/orders/', '--max-concurrency', '2');

    // Assess
    expect(run.code, run.stderr).toBe(0);
    first = JSON.parse(run.stdout);
    expect(first).toMatchObject({
      prefix: 'incoming/orders/',
      mode: 'new',
      files: 4,
      counts: { SUCCEEDED: 1, SKIPPED_DUPLICATE: 3 },
      summaryKey: `batches/${first.batchId}.json`,
    });
    const missed = await attempts('incoming/orders/missed.csv');
    // The upload's own execution name: a late event for this version is now a duplicate.
    expect(missed.map((item) => [item.attempt, item.status])).toEqual([[1, 'SUCCEEDED']]);
    expect(missed[0]?.executionId).toMatch(/:[0-9a-f]{64}$/);
    for (const key of ['a.csv', 'b.csv', 'bad.csv']) {
      expect(await attempts(`incoming/orders/${key}`)).toHaveLength(1);
    }
  });

  it('writes the summary to batches/<id>.json and the Map Run counts every child', async () => {
    // Act
    const object = await stack.s3.send(
      new GetObjectCommand({ Bucket: stack.names.bucketName, Key: first.summaryKey }),
    );
    const { mapRuns } = await stack.sfn.send(
      new ListMapRunsCommand({ executionArn: first.executionArn }),
    );
    const described = await stack.sfn.send(
      new DescribeMapRunCommand({ mapRunArn: mapRuns?.[0]?.mapRunArn }),
    );

    // Assess
    expect(JSON.parse((await object.Body?.transformToString()) ?? '')).toEqual(first);
    expect(described).toMatchObject({
      status: 'SUCCEEDED',
      maxConcurrency: 2,
      itemCounts: { total: 4, succeeded: 4, failed: 0, running: 0 },
    });
  });

  it('with --reprocess, adds an attempt to every version beside the earlier ones', async () => {
    // Act
    const run = await batch('incoming/orders/', '--reprocess');

    // Assess
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      mode: 'reprocess',
      files: 4,
      counts: { SUCCEEDED: 3, QUARANTINED: 1 },
    });
    const bad = await attempts('incoming/orders/bad.csv');
    expect(bad.map((item) => [item.attempt, item.status])).toEqual([
      [1, 'QUARANTINED'],
      [2, 'QUARANTINED'],
    ]);
    expect((await attempts('incoming/orders/missed.csv')).map((item) => item.attempt)).toEqual([
      1, 2,
    ]);
  });

  it('then, by default, skips every version: each has a final status', async () => {
    // Act
    const run = await batch('incoming/orders/');

    // Assess
    expect(JSON.parse(run.stdout).counts).toEqual({ SKIPPED_DUPLICATE: 4 });
  });

  it('fails past the tolerated share of children that reach no final status: exit 1, counted', async () => {
    // Arrange: every child's StartExecution is refused (the batch's own start is spared).
    faults.setRules(
      parseFaultRules([
        {
          service: 'stepfunctions',
          operation: 'StartExecution',
          afterCalls: 1,
          error: { code: 'StateMachineDeleting', statusCode: 400 },
        },
      ]),
    );

    // Act
    const run = await batch('incoming/orders/', '--reprocess');
    faults.setRules([]);

    // Assess
    expect(run.code, run.stderr).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({
      files: 4,
      counts: { FAILED: 4 },
      failurePercentage: 100,
      exceeded: true,
      error: { name: 'States.ExceedToleratedFailureThreshold' },
    });
    expect((await attempts('incoming/orders/a.csv')).map((item) => item.attempt)).toEqual([1, 2]);
    const notices = stack.notices.list().map((message) => JSON.parse(message.message));
    expect(notices).toContainEqual(
      expect.objectContaining({
        kind: 'BatchOverTolerance',
        key: 'incoming/orders/',
        status: '4 of 4 files FAILED',
        executionArn: JSON.parse(run.stdout).executionArn,
      }),
    );
  });

  it('gives an empty prefix a batch of 0 files with its summary', async () => {
    // Act
    const run = await batch('incoming/nothing-here/');

    // Assess
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ files: 0, counts: {} });
  });

  it('refuses a prefix outside incoming/ and a bad --max-concurrency with exit code 2', async () => {
    // Act
    const outside = await batch('variants/');
    const concurrency = await batch('incoming/', '--max-concurrency', '0');

    // Assess
    expect(outside.code).toBe(2);
    expect(outside.stderr).toMatch(/prefix 'variants\/' is outside incoming\//);
    expect(concurrency.code).toBe(2);
    expect(concurrency.stderr).toMatch(/--max-concurrency 0/);
  });
});

describe('a batch whose sluice up is killed -9 halfway', () => {
  const work = mkdtempSync(join(tmpdir(), 'sluice-batch-crash-'));
  const dataDir = join(work, 'data');
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const child of children) child.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  });

  const sluice = (...args: string[]) => {
    const child = spawn(process.execPath, ['cli/sluice.js', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    return child;
  };
  const up = async () => {
    const child = sluice('up', '--data-dir', dataDir, '--port', '0');
    let out = '';
    child.stdout?.on('data', (chunk) => (out += chunk));
    await until(() => /^ready$/m.test(out));
    const info = JSON.parse(readFileSync(join(dataDir, 'endpoint.json'), 'utf8'));
    const config = {
      endpoint: info.endpoint,
      region: info.region,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    };
    return { child, info, sfn: new SFNClient(config), config };
  };
  const exited = (child: ChildProcess) =>
    new Promise<number | null>((done) => {
      if (child.exitCode !== null) done(child.exitCode);
      else child.on('exit', (code) => done(code));
    });

  it('goes on after the restart: every file gets exactly one new attempt, and the summary counts them', async () => {
    // Prepare: 16 processed CSVs, then a --reprocess batch with 2 children at a time.
    const first = await up();
    const csvs = join(work, 'csvs');
    const { writeSmallFiles } = await import('../../bench/small-files.ts');
    const paths = (await writeSmallFiles(csvs, 32)).filter((path) => path.endsWith('.csv'));
    rmSync(join(csvs, 'photos'), { recursive: true, force: true });
    expect(await exited(sluice('upload', csvs, '--data-dir', dataDir, '-o', 'json'))).toBe(0);
    const processFile = first.info.stateMachines.ProcessFile;
    const settled = async (sfn: SFNClient) => {
      const page = await sfn.send(
        new ListExecutionsCommand({ stateMachineArn: processFile, maxResults: 1000 }),
      );
      const executions = page.executions ?? [];
      return executions.length >= paths.length && executions.every((e) => e.status !== 'RUNNING');
    };
    for (let ok = false; !ok; ok = await settled(first.sfn)) {
      await new Promise((wake) => setTimeout(wake, 200));
    }
    const batchRun = sluice(
      'batch',
      'incoming/tables/',
      '--reprocess',
      '--max-concurrency',
      '2',
      '--data-dir',
      dataDir,
      '-o',
      'json',
    );
    let executionArn: string | undefined;
    let done = 0;
    while (done < 4) {
      const page = await first.sfn.send(
        new ListExecutionsCommand({ stateMachineArn: first.info.stateMachines.ProcessBatch }),
      );
      executionArn = page.executions?.[0]?.executionArn;
      if (executionArn) {
        const { mapRuns } = await first.sfn.send(new ListMapRunsCommand({ executionArn }));
        const mapRunArn = mapRuns?.[0]?.mapRunArn;
        if (mapRunArn) {
          const run = await first.sfn.send(new DescribeMapRunCommand({ mapRunArn }));
          done = run.itemCounts?.succeeded ?? 0;
        }
      }
      await new Promise((wake) => setTimeout(wake, 50));
    }

    // Act: kill -9 halfway through, then start again on the same data dir.
    first.child.kill('SIGKILL');
    batchRun.kill('SIGKILL');
    await exited(first.child);
    first.sfn.destroy();
    const second = await up();
    let closed: string | undefined;
    while (!closed || closed === 'RUNNING') {
      await new Promise((wake) => setTimeout(wake, 200));
      closed = (await second.sfn.send(new DescribeExecutionCommand({ executionArn }))).status;
    }

    // Assess
    expect(closed).toBe('SUCCEEDED');
    const { S3Client } = await import('@aws-sdk/client-s3');
    const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
    const { DynamoDBDocumentClient } = await import('@aws-sdk/lib-dynamodb');
    const s3 = new S3Client({ ...second.config, forcePathStyle: true });
    const batchId = String(executionArn?.split(':').pop());
    const listed = await s3.send(
      new (await import('@aws-sdk/client-s3')).ListObjectsV2Command({
        Bucket: second.info.bucket,
        Prefix: 'batches/batch-',
      }),
    );
    const summaryKey = listed.Contents?.find((o) => o.Key?.endsWith('.json'))?.Key ?? '';
    expect(summaryKey.replace(/[^\w.-]/g, '')).toContain(batchId.replace(/[^\w.-]/g, ''));
    const summary = JSON.parse(
      (await (
        await s3.send(new GetObjectCommand({ Bucket: second.info.bucket, Key: summaryKey }))
      ).Body?.transformToString()) ?? '',
    );
    expect(summary).toMatchObject({ files: paths.length, counts: { SUCCEEDED: paths.length } });
    const ledger = new RunLedger(
      DynamoDBDocumentClient.from(new DynamoDBClient(second.config)),
      second.info.table,
    );
    for (const path of paths) {
      const items = await ledger.history(second.info.bucket, `incoming/${path}`);
      const final = items.filter((item) => item.status === 'SUCCEEDED');
      expect(final.map((item) => item.attempt).sort(), path).toEqual([1, 2]);
    }
    second.child.kill('SIGTERM');
    await exited(second.child);
    second.sfn.destroy();
    s3.destroy();
  }, 120_000);
});
