import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalStack } from '#local/stack/stack.ts';
import { executionsCommand } from '../../cli/commands/executions.ts';
import { showCommand } from '../../cli/commands/show.ts';
import { uploadCommand } from '../../cli/commands/upload.ts';
import { watchCommand } from '../../cli/commands/watch.ts';
import type { FileView } from '../../cli/ops/file-view.ts';
import type { ExecutionRow } from '../../cli/ops/ledger-view.ts';
import { type FileOutcome, runFiles } from '../../cli/ops/run-files.ts';
import { type OpsTarget, targetFromLocalStack } from '../../cli/ops/target.ts';
import type { UploadResult } from '../../cli/ops/uploads.ts';
import type { WatchEvent } from '../../cli/ops/watch.ts';
import { captured, runOps, until } from './ops-helpers.ts';

// One local stack for the whole file: starting it and warming the functions is the slow part.
let stack: LocalStack;
let target: OpsTarget;
let dir: string;
let outcomes: FileOutcome[];
/** An execution that failed outright (its input has no file), and the PROCESSING item it left. */
let failedArn: string;

const GOOD_CSV = 'incoming/ledgers/good.csv';
const BAD_CSV = 'incoming/ledgers/bad.csv';
const IMAGE = 'incoming/photos/dunes-small.png';
const CORRUPT = 'incoming/photos/dunes-truncated.jpg';
const CRASHED = 'incoming/ledgers/crashed.csv';

const outcome = (key: string) => outcomes.find((o) => o.key === key);
const json = <T>(text: string): T => JSON.parse(text) as T;
const jsonLines = (text: string) =>
  text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as WatchEvent);

beforeAll(async () => {
  // Prepare: a valid image, a corrupt one, a valid CSV and one its strict schema rejects.
  dir = mkdtempSync(join(tmpdir(), 'sluice-ops-'));
  mkdirSync(join(dir, 'photos'));
  cpSync('sample-data/photos/dunes-small.png', join(dir, 'photos/dunes-small.png'));
  cpSync('sample-data/photos/dunes-truncated.jpg', join(dir, 'photos/dunes-truncated.jpg'));
  mkdirSync(join(dir, 'schemas'));
  mkdirSync(join(dir, 'ledgers'));
  writeFileSync(
    join(dir, 'schemas/ledgers.json'),
    JSON.stringify({
      fields: [
        { name: 'id', type: 'integer', constraints: { required: true } },
        { name: 'amount', type: 'number', constraints: { minimum: 0 } },
      ],
    }),
  );
  writeFileSync(join(dir, 'ledgers/good.csv'), 'id,amount\n1,10.5\n2,3\n');
  writeFileSync(join(dir, 'ledgers/bad.csv'), 'id,amount\n1,10.5\n2,-3\n');
  stack = await LocalStack.start({ retryIntervalMs: 10 });
  target = targetFromLocalStack(stack);
  outcomes = await runFiles(stack, dir);

  // A run that crashed mid-way: its ledger item still says PROCESSING, its execution FAILED.
  const { executionArn } = await stack.sfn.send(
    new StartExecutionCommand({ stateMachineArn: stack.names.stateMachineArn, input: '{}' }),
  );
  failedArn = executionArn ?? '';
  await stack.waitForIdle();
  await stack.ledger.record({
    pk: `${stack.names.bucketName}/${CRASHED}`,
    sk: 'crashed-etag#1',
    bucket: stack.names.bucketName,
    key: CRASHED,
    versionTag: 'crashed-etag',
    attempt: 1,
    dataset: 'ledgers',
    kind: 'csv',
    size: 10,
    status: 'PROCESSING',
    statusAt: 'PROCESSING#2026-01-01T00:00:00.000Z',
    outputs: [],
    summary: null,
    error: null,
    executionId: failedArn,
    receivedAt: '2026-01-01T00:00:00Z',
    startedAt: '2026-01-01T00:00:00.000Z',
  });
}, 120_000);

afterAll(async () => {
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('sluice executions', () => {
  it('lists one row per file version with its status, execution and error', async () => {
    // Act
    const run = await runOps(executionsCommand, target, ['-o', 'json']);

    // Assess
    expect(run.code).toBe(0);
    const rows = json<ExecutionRow[]>(run.stdout);
    expect(rows.map((r) => r.key).sort()).toEqual([BAD_CSV, CRASHED, GOOD_CSV, IMAGE, CORRUPT]);
    const row = (key: string) => rows.find((r) => r.key === key);
    expect(row(GOOD_CSV)).toMatchObject({
      dataset: 'ledgers',
      kind: 'csv',
      status: 'SUCCEEDED',
      executionArn: outcome(GOOD_CSV)?.executionId,
      error: null,
      attempt: 1,
    });
    expect(Date.parse(row(GOOD_CSV)?.stopDate ?? '')).toBeGreaterThanOrEqual(
      Date.parse(row(GOOD_CSV)?.startDate ?? ''),
    );
    expect(row(BAD_CSV)).toMatchObject({ status: 'QUARANTINED', error: { name: 'CsvRejected' } });
    expect(row(CORRUPT)).toMatchObject({
      kind: 'image',
      status: 'QUARANTINED',
      error: { name: 'CorruptImage' },
    });
    expect(row(IMAGE)?.status).toBe('SUCCEEDED');
    const starts = rows.map((r) => r.startDate ?? '');
    expect(starts).toEqual([...starts].sort().reverse());
  });

  it('shows a PROCESSING item whose execution failed as FAILED, with the execution error', async () => {
    // Prepare
    const execution = await stack.sfn.send(
      new DescribeExecutionCommand({ executionArn: failedArn }),
    );

    // Act
    const run = await runOps(executionsCommand, target, ['--status', 'FAILED', '-o', 'json']);

    // Assess
    const rows = json<ExecutionRow[]>(run.stdout);
    expect(execution.status).toBe('FAILED');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      key: CRASHED,
      status: 'FAILED',
      executionArn: failedArn,
      error: { name: execution.error },
    });
    expect(rows[0]?.stopDate).not.toBeNull();
  });

  it('filters by status, dataset, time and count', async () => {
    // Act
    const keys = async (...args: string[]) =>
      json<ExecutionRow[]>(
        (await runOps(executionsCommand, target, [...args, '-o', 'json'])).stdout,
      )
        .map((r) => r.key)
        .sort();

    // Assess
    expect(await keys('--status', 'quarantined')).toEqual([BAD_CSV, CORRUPT]);
    expect(await keys('--status', 'SUCCEEDED,FAILED', '--dataset', 'ledgers')).toEqual([
      CRASHED,
      GOOD_CSV,
    ]);
    expect(await keys('--dataset', 'photos')).toEqual([IMAGE, CORRUPT]);
    // The crashed version counts from when its execution failed, which is within the hour.
    expect(await keys('--since', '1h')).toEqual([BAD_CSV, CRASHED, GOOD_CSV, IMAGE, CORRUPT]);
    expect(await keys('--since', '2025-12-31T00:00:00Z')).toHaveLength(5);
    expect(await keys('--since', '2999-01-01')).toEqual([]);
    expect(await keys('--limit', '2')).toHaveLength(2);
  });

  it('prints jsonl one row a line, and a table with the error under its row', async () => {
    // Act
    const lines = await runOps(executionsCommand, target, ['--dataset', 'photos', '-o', 'jsonl']);
    const table = await runOps(executionsCommand, target, ['--dataset', 'photos', '-o', 'table']);

    // Assess
    const rows = lines.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line));
    expect(rows.map((r) => r.key).sort()).toEqual([IMAGE, CORRUPT]);
    const text = table.stdout.split('\n');
    expect(text[0]).toMatch(/^STARTED\s+STATUS\s+KIND\s+DURATION\s+ATTEMPT\s+KEY$/);
    const corrupt = text.findIndex((line) => line.endsWith(CORRUPT));
    expect(text[corrupt]).toContain('QUARANTINED');
    expect(text[corrupt + 1]).toMatch(/^ {4}CorruptImage: /);
  });

  it('ends a bad option with one line on stderr and exit code 2', async () => {
    // Act
    const status = await runOps(executionsCommand, target, ['--status', 'DONE']);
    const since = await runOps(executionsCommand, target, ['--since', 'yesterday']);
    const limit = await runOps(executionsCommand, target, ['--limit', '0']);

    // Assess
    for (const run of [status, since, limit]) {
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
    }
    expect(status.stderr).toContain('--status DONE');
    expect(since.stderr).toContain('--since yesterday');
  });
});

describe('sluice show', () => {
  it('shows a rejected CSV: attempts, states, outputs and its execution logs', async () => {
    // Act
    const run = await runOps(showCommand, target, [BAD_CSV, '-o', 'json']);

    // Assess
    expect(run.code).toBe(0);
    const view = json<FileView>(run.stdout);
    const arn = outcome(BAD_CSV)?.executionId;
    expect(view).toMatchObject({
      key: BAD_CSV,
      status: 'QUARANTINED',
      error: { name: 'CsvRejected' },
      executionArn: arn,
      executionStatus: 'SUCCEEDED',
      logsNote: null,
    });
    expect(view.attempts).toEqual([
      expect.objectContaining({ attempt: 1, status: 'QUARANTINED', executionArn: arn }),
    ]);
    expect(view.attempts[0]?.error?.name).toBe('CsvRejected');
    expect(view.attempts[0]?.startDate).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    const names = view.states.map((s) => s.name);
    expect(names).toEqual(
      expect.arrayContaining(['Claim', 'CheckCsv', 'ValidateCsv', 'CsvRejected', 'Quarantine']),
    );
    expect(names).not.toContain('RecordResult');
    for (const state of view.states) {
      expect(state).toMatchObject({ status: 'SUCCEEDED', retries: 0, error: null });
      expect(state.durationMs).toBeGreaterThanOrEqual(0);
    }
    expect(view.outputs).toEqual(
      expect.arrayContaining(['validated/ledgers/bad/valid.csv', 'quarantine/ledgers/bad.csv']),
    );
    expect(view.logs.length).toBeGreaterThan(0);
    expect(view.logs.every((line) => line.executionId === arn)).toBe(true);
    expect(view.logs.map((line) => line.function)).toEqual(
      expect.arrayContaining(['StartExecution', 'ValidateCsv', 'QuarantineFile']),
    );
  });

  it("names the state that failed a corrupt image, caught, with the function's error", async () => {
    // Act
    const run = await runOps(showCommand, target, [CORRUPT, '-o', 'json']);

    // Assess
    const view = json<FileView>(run.stdout);
    const map = view.states.find((s) => s.name === 'ResizeVariants');
    expect(map).toMatchObject({
      type: 'Map',
      status: 'CAUGHT',
      retries: 0,
      iterations: { started: 1, succeeded: 0, failed: 1 },
    });
    const group = view.states.find((s) => s.name === 'ResizeGroup');
    expect(group?.status).toBe('CAUGHT');
    expect(group?.error?.name).toBe('CorruptImage');
    // The function's message, not Lambda's JSON cause around it.
    expect(group?.error?.message).toMatch(/^The image could not be decoded/);
    expect(view.states.find((s) => s.name === 'Quarantine')?.status).toBe('SUCCEEDED');
    expect(view.outputs).toEqual(['quarantine/photos/dunes-truncated.jpg']);
  });

  it('finds the file from an execution ARN, and a key without incoming/', async () => {
    // Act
    const byArn = await runOps(showCommand, target, [outcome(IMAGE)?.executionId ?? '']);
    const byShortKey = await runOps(showCommand, target, ['photos/dunes-small.png']);

    // Assess
    for (const run of [byArn, byShortKey]) {
      const view = json<FileView>(run.stdout);
      expect(view.key).toBe(IMAGE);
      expect(view.status).toBe('SUCCEEDED');
      expect(view.outputs.length).toBeGreaterThan(0);
      expect(view.states.find((s) => s.name === 'ResizeVariants')?.iterations?.succeeded).toBe(
        view.states.filter((s) => s.name === 'ResizeGroup').length,
      );
    }
  });

  it('shows an execution whose input names no file by its states alone', async () => {
    // Act
    const run = await runOps(showCommand, target, [failedArn, '-o', 'json']);

    // Assess
    expect(run.code).toBe(0);
    const view = json<FileView>(run.stdout);
    expect(view).toMatchObject({
      key: null,
      status: 'FAILED',
      executionArn: failedArn,
      executionStatus: 'FAILED',
      attempts: [],
    });
    expect(view.states[0]).toMatchObject({ name: 'Begin', status: 'FAILED' });
    expect(view.states[0]?.error?.name).toBeTruthy();
  });

  it('finds a file by its s3:// URL', async () => {
    // Act
    const run = await runOps(showCommand, target, [`s3://${stack.names.bucketName}/${GOOD_CSV}`]);

    // Assess
    expect(json<FileView>(run.stdout)).toMatchObject({ key: GOOD_CSV, status: 'SUCCEEDED' });
  });

  it('prints a table of the file, its attempts, states, outputs and logs', async () => {
    // Act
    const run = await runOps(showCommand, target, [CORRUPT, '-o', 'table']);

    // Assess
    expect(run.stdout).toMatch(/^KEY\s+incoming\/photos\/dunes-truncated\.jpg$/m);
    expect(run.stdout).toMatch(/^STATUS\s+QUARANTINED\s+CorruptImage: /m);
    for (const section of ['ATTEMPTS', 'STATES', 'OUTPUTS']) {
      expect(run.stdout).toMatch(new RegExp(`^${section}$`, 'm'));
    }
    expect(run.stdout).toMatch(/^ResizeGroup\s+Task\s+CAUGHT\s/m);
    expect(run.stdout).toMatch(/^LOGS \(\d+\)$/m);
  });

  it('ends an unknown key or ARN with one line on stderr and exit code 2', async () => {
    // Act
    const key = await runOps(showCommand, target, ['incoming/ledgers/nope.csv']);
    const arn = await runOps(showCommand, target, [`${failedArn}-nope`]);

    // Assess
    for (const run of [key, arn]) {
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
    }
    expect(key.stderr).toMatch(/^sluice: no file incoming\/ledgers\/nope\.csv /);
    expect(arn.stderr).toMatch(/^sluice: no execution arn:aws:states:/);
  });
});

describe('sluice watch', () => {
  it('prints the history of a finished execution and exits 0 when it SUCCEEDED', async () => {
    // Act
    const run = await runOps(watchCommand, target, [
      outcome(GOOD_CSV)?.executionId ?? '',
      '-o',
      'jsonl',
    ]);

    // Assess
    expect(run.code).toBe(0);
    const events = jsonLines(run.stdout);
    expect(events[0]).toMatchObject({ type: 'ExecutionStarted', key: GOOD_CSV, id: 1 });
    expect(events.at(-1)).toMatchObject({
      type: 'ExecutionSucceeded',
      status: 'SUCCEEDED',
      fileStatus: 'SUCCEEDED',
    });
    const ids = events.map((e) => e.id);
    expect(ids).toEqual([...new Set(ids)]);
    const claimed = events.find((e) => e.type === 'TaskStateExited' && e.state === 'Claim');
    expect(claimed?.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('follows a key to its latest attempt, and exits 1 for an execution that FAILED', async () => {
    // Act
    const byKey = await runOps(watchCommand, target, [BAD_CSV, '-o', 'json']);
    const failed = await runOps(watchCommand, target, [failedArn, '-o', 'json']);

    // Assess
    expect(byKey.code).toBe(0);
    expect(json<WatchEvent[]>(byKey.stdout).at(-1)?.fileStatus).toBe('QUARANTINED');
    expect(failed.code).toBe(1);
    const last = json<WatchEvent[]>(failed.stdout).at(-1);
    expect(last).toMatchObject({ type: 'ExecutionFailed', status: 'FAILED' });
    expect(last?.error?.name).toBeTruthy();
  });

  it('ends an unknown execution with exit code 2', async () => {
    // Act
    const run = await runOps(watchCommand, target, [`${failedArn}-nope`]);

    // Assess
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^sluice: no execution /);
  });
});

describe('sluice upload', () => {
  let files: string;
  beforeAll(() => {
    files = mkdtempSync(join(tmpdir(), 'sluice-upload-'));
    mkdirSync(join(files, 'orders'));
    mkdirSync(join(files, 'blobs'));
    writeFileSync(join(files, 'orders/march.csv'), 'id,amount\n1,2\n');
    // Over one 8 MiB part, so it goes up in two.
    writeFileSync(join(files, 'blobs/big.bin'), Buffer.alloc(9 * 1024 * 1024, 7));
    writeFileSync(join(files, 'loose.csv'), 'a\n1\n');
    writeFileSync(join(files, '.hidden'), 'skip me');
  });
  afterAll(() => rmSync(files, { recursive: true, force: true }));

  it('plans keys by dataset folder without uploading on --dry-run', async () => {
    // Act
    const run = await runOps(uploadCommand, target, [files, '--dry-run', '-o', 'json']);

    // Assess
    expect(run.code).toBe(0);
    expect(json<UploadResult[]>(run.stdout).map((r) => [r.key, r.etag])).toEqual([
      ['incoming/blobs/big.bin', null],
      ['incoming/loose.csv', null],
      ['incoming/orders/march.csv', null],
    ]);
    await expect(
      stack.s3.send(
        new HeadObjectCommand({ Bucket: stack.names.bucketName, Key: 'incoming/orders/march.csv' }),
      ),
    ).rejects.toThrow();
  });

  it('uploads one file under --dataset, and a dir, big files in parts', async () => {
    // Act
    const one = await runOps(uploadCommand, target, [
      join(files, 'orders/march.csv'),
      '--dataset',
      'april',
      '-o',
      'json',
    ]);
    const all = await runOps(uploadCommand, target, [files, '-o', 'json']);
    await stack.waitForIdle();

    // Assess
    expect(one.code).toBe(0);
    expect(json<UploadResult[]>(one.stdout)).toEqual([
      expect.objectContaining({ key: 'incoming/april/march.csv', bytes: 14 }),
    ]);
    expect(all.code).toBe(0);
    const results = json<UploadResult[]>(all.stdout);
    expect(results.map((r) => r.key)).toEqual([
      'incoming/blobs/big.bin',
      'incoming/loose.csv',
      'incoming/orders/march.csv',
    ]);
    for (const result of results) {
      const head = await stack.s3.send(
        new HeadObjectCommand({ Bucket: stack.names.bucketName, Key: result.key }),
      );
      expect(head.ContentLength).toBe(result.bytes);
      expect(head.ETag?.replace(/"/g, '')).toBe(result.etag);
    }
    // s3rver gives a multipart object a plain MD5 ETag, where S3 gives `<md5>-<parts>`.
    expect(results.every((r) => /^[0-9a-f]{32}(-\d+)?$/.test(r.etag ?? ''))).toBe(true);
  });

  it('ends a missing path with exit code 2', async () => {
    // Act
    const run = await runOps(uploadCommand, target, [join(files, 'nope')]);

    // Assess
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^sluice: .*nope: no such file or directory\n$/);
  });
});

describe('sluice watch, with no execution', () => {
  it('tails executions that start and end from now on, until interrupted', async () => {
    // Prepare
    const out = captured();
    const notices = captured();
    const stop = new AbortController();
    const upload = mkdtempSync(join(tmpdir(), 'sluice-tail-'));
    writeFileSync(join(upload, 'tail.csv'), 'id\n1\n');
    let code: number | undefined;
    const watching = watchCommand({
      target: () => target,
      stdout: out.sink,
      stderr: notices.sink,
      exit: (exitCode) => {
        code = exitCode;
      },
      signal: stop.signal,
    }).parseAsync(['-o', 'jsonl'], { from: 'user' });

    // Act: upload once it says it watches, then Ctrl-C once the file's execution is shown ended.
    await until(() => notices.text().includes('watching'));
    await runOps(uploadCommand, target, [join(upload, 'tail.csv'), '--dataset', 'tail']);
    await until(() => out.text().includes('"type":"ExecutionSucceeded"'));
    stop.abort();
    await watching;
    rmSync(upload, { recursive: true, force: true });

    // Assess
    expect(code).toBe(0);
    const events = jsonLines(out.text());
    const own = events.filter((e) => e.key === 'incoming/tail/tail.csv');
    expect(own.map((e) => e.type)).toEqual(['ExecutionStarted', 'ExecutionSucceeded']);
    expect(own[1]).toMatchObject({ status: 'SUCCEEDED', fileStatus: 'SUCCEEDED' });
    // Executions that ended before the watch began are not printed again.
    expect(events.some((e) => e.key === GOOD_CSV)).toBe(false);
  });
});
