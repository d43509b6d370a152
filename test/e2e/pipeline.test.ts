import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
} from '@aws-sdk/client-sfn';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeS3EventKey } from '#local/emulators/s3.ts';
import { LocalStack } from '#local/stack/stack.ts';
import { alertsCommand } from '../../cli/commands/alerts.ts';
import { type FileOutcome, runFiles } from '../../cli/ops/run-files.ts';
import { targetFromLocalStack } from '../../cli/ops/target.ts';
import type { AggregateRecord } from '../../functions/commons/types.ts';
import { runOps } from '../cli/ops-helpers.ts';

// One local stack for the whole file: starting it and warming the functions is the slow part.
let stack: LocalStack;
let dir: string;
let outcomes: FileOutcome[];

const WEIRD_KEY = 'incoming/misc/q1 report+final é.csv';

async function body(key: string): Promise<Buffer> {
  const response = await stack.s3.send(
    new GetObjectCommand({ Bucket: stack.names.bucketName, Key: key }),
  );
  return Buffer.from(await (response.Body?.transformToByteArray() ?? new Uint8Array()));
}

async function keys(prefix: string): Promise<string[]> {
  const listed = await stack.s3.send(
    new ListObjectsV2Command({ Bucket: stack.names.bucketName, Prefix: prefix }),
  );
  return (listed.Contents ?? []).map((object) => object.Key ?? '');
}

const outcome = (key: string) => outcomes.find((o) => o.key === key);

beforeAll(async () => {
  // Prepare: the sample photos, a schema'd CSV dataset (one valid file, one with a bad row),
  // a file of no supported kind, and a key with spaces, '+' and non-ASCII characters.
  dir = mkdtempSync(join(tmpdir(), 'sluice-e2e-'));
  cpSync('sample-data/photos', join(dir, 'photos'), { recursive: true });
  mkdirSync(join(dir, 'schemas'));
  mkdirSync(join(dir, 'ledgers'));
  mkdirSync(join(dir, 'misc'));
  writeFileSync(
    join(dir, 'schemas/ledgers.json'),
    JSON.stringify({
      fields: [
        { name: 'id', type: 'integer', constraints: { required: true, unique: true } },
        { name: 'amount', type: 'number', constraints: { minimum: 0 } },
      ],
      primaryKey: 'id',
    }),
  );
  writeFileSync(join(dir, 'ledgers/good.csv'), 'id,amount\n1,10.5\n2,3\n');
  writeFileSync(join(dir, 'ledgers/bad.csv'), 'id,amount\n1,10.5\n2,-3\n3,x\n');
  writeFileSync(join(dir, 'misc/notes.txt'), 'not a pipeline file\n');
  writeFileSync(join(dir, 'misc/q1 report+final é.csv'), 'a,b\n1,2\n');
  stack = await LocalStack.start({ retryIntervalMs: 10 });

  // Act
  outcomes = await runFiles(stack, dir);
}, 120_000);

afterAll(async () => {
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the pipeline, end to end through the local stack', () => {
  it('gives every uploaded file a final recorded status', () => {
    // Assess
    expect(outcomes).toHaveLength(10);
    expect(outcomes.filter((o) => o.status === 'MISSING')).toEqual([]);
  });

  it('stores upright image variants, decoded once per group', async () => {
    // Assess
    const rotated = outcome('incoming/photos/dev-board-rotated.jpg');
    expect(rotated?.status).toBe('SUCCEEDED');
    const plain = outcome('incoming/photos/dev-board.jpg');
    const large = rotated?.outputs.find((key) => key.endsWith('/large.jpg')) ?? '';
    const plainLarge = plain?.outputs.find((key) => key.endsWith('/large.jpg')) ?? '';
    const [rotatedMeta, plainMeta] = await Promise.all([
      sharp(await body(large)).metadata(),
      sharp(await body(plainLarge)).metadata(),
    ]);
    // The rotated copy stores its pixels on their side with EXIF orientation 6; applied, it
    // comes out with the same landscape shape as the plain photo.
    expect(rotatedMeta.width).toBeGreaterThan(rotatedMeta.height ?? 0);
    expect([rotatedMeta.width, rotatedMeta.height]).toEqual([plainMeta.width, plainMeta.height]);
    expect(rotatedMeta.orientation).toBeUndefined();
  });

  it('quarantines a corrupt image with a named error and keeps the original', async () => {
    // Assess
    const corrupt = outcome('incoming/photos/dunes-truncated.jpg');
    expect(corrupt?.status).toBe('QUARANTINED');
    expect(corrupt?.error?.name).toBe('CorruptImage');
    expect(await keys('quarantine/photos/dunes-truncated.jpg')).toContain(
      'quarantine/photos/dunes-truncated.jpg',
    );
    expect(await keys('incoming/photos/dunes-truncated.jpg')).toHaveLength(1);
  });

  it('validates CSVs against the dataset schema and splits the rows', async () => {
    // Assess
    expect(outcome('incoming/ledgers/good.csv')?.status).toBe('SUCCEEDED');
    const bad = outcome('incoming/ledgers/bad.csv');
    expect(bad?.status).toBe('QUARANTINED');
    expect(bad?.error?.name).toBe('CsvRejected');
    expect((await body('validated/ledgers/bad/valid.csv')).toString()).toBe('id,amount\n1,10.5\n');
    const report = JSON.parse((await body('validated/ledgers/bad/report.json')).toString());
    expect(report.stats.invalidRows).toBe(2);
  });

  it('publishes one notice per quarantined file to the topic, which sluice alerts lists', async () => {
    // Act
    const run = await runOps(alertsCommand, targetFromLocalStack(stack), ['-o', 'json']);
    const quarantined = await runOps(alertsCommand, targetFromLocalStack(stack), [
      '-o',
      'json',
      '--kind',
      'FileFailed',
    ]);

    // Assess: the files that succeeded published nothing.
    expect(run.code, run.stderr).toBe(0);
    const alerts = JSON.parse(run.stdout).alerts as Record<string, unknown>[];
    const expected = outcomes.filter((o) => o.status === 'QUARANTINED');
    expect(alerts.map((alert) => alert.key).sort()).toEqual(expected.map((o) => o.key).sort());
    expect(alerts).toContainEqual(
      expect.objectContaining({
        kind: 'FileQuarantined',
        dataset: 'photos',
        key: 'incoming/photos/dunes-truncated.jpg',
        error: expect.objectContaining({ name: 'CorruptImage' }),
        executionArn: outcome('incoming/photos/dunes-truncated.jpg')?.executionId,
        subject: 'sluice: QUARANTINED incoming/photos/dunes-truncated.jpg (CorruptImage)',
      }),
    );
    expect(JSON.parse(quarantined.stdout).alerts).toEqual([]);
  });

  it('quarantines a file of no supported kind', () => {
    // Assess
    const notes = outcome('incoming/misc/notes.txt');
    expect(notes?.status).toBe('QUARANTINED');
    expect(notes?.error?.name).toBe('UnsupportedFileType');
  });

  it('decodes a key with spaces, "+" and non-ASCII characters as S3 encodes it', async () => {
    // Assess
    const weird = outcome(WEIRD_KEY);
    expect(weird?.status).toBe('SUCCEEDED');
    const [item] = await stack.ledger.history(stack.names.bucketName, WEIRD_KEY);
    expect(item?.key).toBe(WEIRD_KEY);
    expect(item?.dataset).toBe('misc');
  });

  it('records the run in the ledger and lands one aggregate per file through Firehose', async () => {
    // Assess
    const good = await stack.ledger.history(stack.names.bucketName, 'incoming/ledgers/good.csv');
    expect(good.map((item) => item.status)).toEqual(['SUCCEEDED']);
    const execution = await stack.sfn.send(
      new DescribeExecutionCommand({ executionArn: good[0]?.executionId }),
    );
    expect(execution.status).toBe('SUCCEEDED');
    const listed = await stack.sfn.send(
      new ListExecutionsCommand({ stateMachineArn: stack.names.stateMachineArn }),
    );
    expect(listed.executions).toHaveLength(outcomes.length);
    const image = outcome('incoming/photos/dunes.jpg');
    const { events = [] } = await stack.sfn.send(
      new GetExecutionHistoryCommand({ executionArn: image?.executionId ?? '' }),
    );
    const entered = events.flatMap((event) => event.stateEnteredEventDetails?.name ?? []);
    expect(entered).toEqual(expect.arrayContaining(['Claim', 'ResizeVariants', 'ResizeGroup']));
    const objects = await keys('aggregates/');
    expect(objects.every((key) => /^aggregates\/\d{4}\/\d{2}\/\d{2}\/\d{2}\//.test(key))).toBe(
      true,
    );
    const records = (await Promise.all(objects.map(body)))
      .flatMap((data) => data.toString().split('\n').filter(Boolean))
      .map((line) => JSON.parse(line) as AggregateRecord);
    expect(records.map((r) => r.key).sort()).toEqual(outcomes.map((o) => o.key).sort());
    expect(records.find((r) => r.key === 'incoming/ledgers/bad.csv')).toMatchObject({
      dataset: 'ledgers',
      outcome: 'QUARANTINED',
      rows: 3,
      invalidRows: 2,
    });
  });

  it('skips a re-uploaded identical file as a duplicate', async () => {
    // Act
    const again = await runFiles(stack, dir);

    // Assess
    expect(new Set(again.map((o) => o.status))).toEqual(new Set(['SKIPPED_DUPLICATE']));
    const history = await stack.ledger.history(stack.names.bucketName, 'incoming/ledgers/good.csv');
    expect(history.map((item) => item.status)).toEqual(['SUCCEEDED', 'SKIPPED_DUPLICATE']);
  }, 60_000);

  it('skips a redelivered event for a version that already ran', async () => {
    // Prepare: the event EventBridge would send again for an upload already processed.
    const key = 'incoming/ledgers/good.csv';
    const head = await stack.s3.send(
      new HeadObjectCommand({ Bucket: stack.names.bucketName, Key: key }),
    );
    const redelivered = {
      version: '0',
      id: 'redelivered-event',
      'detail-type': 'Object Created',
      source: 'aws.s3',
      account: '000000000000',
      time: new Date().toISOString(),
      region: 'us-east-1',
      resources: [`arn:aws:s3:::${stack.names.bucketName}`],
      detail: {
        version: '0',
        bucket: { name: stack.names.bucketName },
        object: { key: encodeS3EventKey(key), size: head.ContentLength, etag: head.ETag },
        'request-id': 'r',
        requester: '000000000000',
        'source-ip-address': '127.0.0.1',
        reason: 'PutObject',
      },
    };

    // Act
    stack.queue.send(JSON.stringify(redelivered));
    await stack.waitForIdle();

    // Assess
    const history = await stack.ledger.history(stack.names.bucketName, key);
    // One from the re-upload before, one from this delivery.
    const duplicates = history.filter((item) => item.sk.includes('#DUPLICATE#'));
    expect(duplicates.map((item) => item.status)).toEqual([
      'SKIPPED_DUPLICATE',
      'SKIPPED_DUPLICATE',
    ]);
    expect(history.filter((item) => item.status === 'SUCCEEDED')).toHaveLength(1);
  });

  it('says so when a version has an attempt whose execution never finished', async () => {
    // Prepare: the ledger of a run stopped mid-way, with this version still PROCESSING.
    const content = 'id,amount\n7,1\n';
    const key = 'incoming/ledgers/interrupted.csv';
    const etag = createHash('md5').update(content).digest('hex');
    await stack.ledger.record({
      pk: `${stack.names.bucketName}/${key}`,
      sk: `${etag}#1`,
      bucket: stack.names.bucketName,
      key,
      versionTag: etag,
      attempt: 1,
      dataset: 'ledgers',
      kind: 'csv',
      size: content.length,
      status: 'PROCESSING',
      statusAt: 'PROCESSING#2026-01-01T00:00:00.000Z',
      outputs: [],
      summary: null,
      error: null,
      executionId: 'arn:aws:states:us-east-1:000000000000:execution:sluice-ProcessFile:stopped',
      receivedAt: '2026-01-01T00:00:00Z',
      startedAt: '2026-01-01T00:00:00.000Z',
    });
    const again = mkdtempSync(join(tmpdir(), 'sluice-e2e-interrupted-'));
    mkdirSync(join(again, 'ledgers'));
    writeFileSync(join(again, 'ledgers/interrupted.csv'), content);

    // Act
    const [result] = await runFiles(stack, again);
    rmSync(again, { recursive: true, force: true });

    // Assess
    expect(result?.status).toBe('MISSING');
    expect(result?.error?.name).toBe('NoOutcome');
    expect(result?.error?.message).toContain(':stopped did not finish');
  });

  it("reads a run's outcomes by status when a dataset has many files, as each file's history gives them", async () => {
    // Prepare: more files in one dataset than statuses, so the run reads the status index; a
    // second run changes one file and uploads the rest again.
    const many = mkdtempSync(join(tmpdir(), 'sluice-e2e-many-'));
    mkdirSync(join(many, 'bulk'));
    for (let i = 0; i < 12; i++) writeFileSync(join(many, 'bulk', `f${i}.csv`), `a,b\n${i},x\n`);
    writeFileSync(join(many, 'bulk', 'broken.png'), 'not an image');
    // Each outcome is the final item that its execution wrote.
    const asRecorded = (run: FileOutcome[]) =>
      Promise.all(
        run.map(async (o) => {
          const history = await stack.ledger.history(stack.names.bucketName, o.key);
          const ended = history.filter((item) => item.executionId === o.executionId).at(-1);
          return [o.key, ended?.status, ended?.durationMs];
        }),
      );
    const first = await runFiles(stack, many);
    const firstRecorded = await asRecorded(first);
    writeFileSync(join(many, 'bulk', 'f0.csv'), 'a,b\n0,changed\n');

    // Act
    const second = await runFiles(stack, many);
    rmSync(many, { recursive: true, force: true });

    // Assess
    const byKey = (run: FileOutcome[]) =>
      Object.fromEntries(run.map((o) => [o.key.replace('incoming/bulk/', ''), o.status]));
    const expected = (changed: string, csvs: string, broken: string) => ({
      ...Object.fromEntries(
        Array.from({ length: 12 }, (_, i) => [`f${i}.csv`, i === 0 ? changed : csvs]),
      ),
      'broken.png': broken,
    });
    expect(byKey(first)).toEqual(expected('SUCCEEDED', 'SUCCEEDED', 'QUARANTINED'));
    expect(byKey(second)).toEqual(expected('SUCCEEDED', 'SKIPPED_DUPLICATE', 'SKIPPED_DUPLICATE'));
    expect(first.map((o) => [o.key, o.status, o.durationMs])).toEqual(firstRecorded);
    const changed = second.filter((o) => o.status !== 'SKIPPED_DUPLICATE');
    expect(changed.map((o) => [o.key, o.status, o.durationMs])).toEqual(await asRecorded(changed));
  });
});
