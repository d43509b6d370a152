import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BatchSummary,
  batchLedgerKey,
  batchLedgerSortKey,
  summaryKeyOf,
} from '#commons/batch.ts';
import { type BatchSchedule, nextRun, readSchedules } from '#commons/schedules.ts';
import { type SluiceService, startService } from '#local/service/service.ts';
import { type ScheduleRow, schedulesCommand } from '../../cli/commands/schedules.ts';
import type { CommandRun } from './ops-helpers.ts';

// One `sluice up` (in-process) for the file: its data dir is what the command is pointed at.
let dir: string;
let dataDir: string;
let schedulesFile: string;
let service: SluiceService;

/** `sluice schedules <args>` as a user runs it: the stack found through --data-dir. */
async function sluiceSchedules(...args: string[]): Promise<CommandRun> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  let code: number | undefined;
  const command = schedulesCommand({
    stdout: { write: (text: string) => stdout.push(text), isTTY: false },
    stderr: { write: (text: string) => stderr.push(text), isTTY: false },
    exit: (exitCode) => {
      code = exitCode;
    },
  });
  command.exitOverride();
  await command.parseAsync(args, { from: 'user' });
  return { code, stdout: stdout.join(''), stderr: stderr.join('') };
}

/** A ledger item of a finished batch, as ProcessBatch writes it. */
async function recordBatch(
  schedule: string,
  startDate: string,
  fields: Partial<BatchSummary>,
): Promise<BatchSummary> {
  const batchId = `${schedule}-${startDate.slice(0, 19)}Z`;
  const summary: BatchSummary = {
    batchId,
    prefix: 'incoming/orders/',
    mode: 'new',
    schedule,
    files: 0,
    counts: {},
    failurePercentage: 0,
    exceeded: false,
    startDate,
    stopDate: new Date(Date.parse(startDate) + 42_000).toISOString(),
    summaryKey: summaryKeyOf(batchId),
    executionArn: `arn:aws:states:us-east-1:000000000000:execution:sluice-ProcessBatch:${batchId.replace(/:/g, '')}`,
    ...fields,
  };
  await service.stack.dynamodb.send(
    new PutCommand({
      TableName: service.stack.names.tableName,
      Item: {
        pk: batchLedgerKey(schedule),
        sk: batchLedgerSortKey(startDate, batchId),
        ...summary,
      },
    }),
  );
  return summary;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-schedules-'));
  dataDir = join(dir, 'data');
  schedulesFile = join(dir, 'schedules.json');
  writeFileSync(
    schedulesFile,
    JSON.stringify({
      datasets: ['orders', 'photos'],
      schedules: [
        {
          name: 'orders-nightly',
          dataset: 'orders',
          expression: 'cron(0 2 * * ? *)',
          timeZone: 'Europe/London',
          flexibleWindowMinutes: 30,
        },
        {
          name: 'photos-hourly',
          dataset: 'photos',
          expression: 'rate(1 hour)',
          prefix: 'incoming/photos/2026/',
          mode: 'reprocess',
        },
        { name: 'orders-weekly', dataset: 'orders', expression: 'cron(0 6 ? * MON *)' },
      ],
    }),
  );
  service = await startService({ dataDir, port: 0, schedules: schedulesFile });
  // Prepare: two nightly batches (the command shows the later) and one hourly that failed.
  await recordBatch('orders-nightly', '2026-12-02T02:00:04.000Z', {
    files: 3,
    counts: { SUCCEEDED: 3 },
  });
  await recordBatch('orders-nightly', '2026-12-03T02:00:05.000Z', {
    files: 12,
    counts: { SUCCEEDED: 10, QUARANTINED: 2 },
  });
  await recordBatch('photos-hourly', '2026-12-03T11:00:02.000Z', {
    prefix: 'incoming/photos/2026/',
    mode: 'reprocess',
    files: 20,
    counts: { SUCCEEDED: 15, FAILED: 5 },
    failurePercentage: 25,
    exceeded: true,
  });
}, 120_000);

afterAll(async () => {
  await service?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('sluice schedules', () => {
  it('lists each schedule with its next run and its last batch from the ledger', async () => {
    // Prepare
    const declared = readSchedules(schedulesFile);
    const before = new Date();

    // Act
    const run = await sluiceSchedules(
      '--schedules',
      schedulesFile,
      '--data-dir',
      dataDir,
      '-o',
      'json',
    );

    // Assess
    const after = new Date();
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const { schedules } = JSON.parse(run.stdout) as { schedules: ScheduleRow[] };
    const nextOf = (s: BatchSchedule) =>
      [nextRun(s, before), nextRun(s, after)].map((d) => d.toISOString());
    expect(schedules).toHaveLength(3);
    const [nightly, hourly, weekly] = schedules;
    expect(nightly).toEqual({
      name: 'orders-nightly',
      dataset: 'orders',
      expression: 'cron(0 2 * * ? *)',
      timeZone: 'Europe/London',
      prefix: 'incoming/orders/',
      mode: 'new',
      flexibleWindowMinutes: 30,
      nextRun: expect.any(String),
      lastRun: {
        batchId: 'orders-nightly-2026-12-03T02:00:05Z',
        startDate: '2026-12-03T02:00:05.000Z',
        stopDate: '2026-12-03T02:00:47.000Z',
        files: 12,
        counts: { SUCCEEDED: 10, QUARANTINED: 2 },
        outcome: 'SUCCEEDED',
      },
    });
    expect(nextOf(declared[0] as BatchSchedule)).toContain(nightly?.nextRun);
    expect(hourly).toMatchObject({
      name: 'photos-hourly',
      timeZone: 'UTC',
      prefix: 'incoming/photos/2026/',
      mode: 'reprocess',
      flexibleWindowMinutes: 0,
      lastRun: { files: 20, counts: { SUCCEEDED: 15, FAILED: 5 }, outcome: 'FAILED' },
    });
    expect(nextOf(declared[1] as BatchSchedule)).toContain(hourly?.nextRun);
    expect(weekly).toMatchObject({ name: 'orders-weekly', lastRun: null });
  });

  it('prints a table with the outcome and the counts under each schedule that ran', async () => {
    // Act
    const run = await sluiceSchedules(
      '--schedules',
      schedulesFile,
      '--data-dir',
      dataDir,
      '-o',
      'table',
    );

    // Assess
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^NAME +DATASET +EXPRESSION +TIME ZONE +PREFIX +MODE +NEXT RUN +LAST RUN +OUTCOME$/,
    );
    expect(lines[1]).toMatch(
      /^orders-nightly +orders +cron\(0 2 \* \* \? \*\) +Europe\/London +incoming\/orders\/ +new +\d{4}-\d\d-\d\dT0[12]:00:00Z +2026-12-03T02:00:05Z +SUCCEEDED$/,
    );
    expect(lines[2]).toBe(
      '    last batch orders-nightly-2026-12-03T02:00:05Z: 12 file(s): 10 SUCCEEDED, 2 QUARANTINED',
    );
    expect(lines[3]).toMatch(/^photos-hourly .* reprocess .* FAILED$/);
    expect(lines.at(-1)).toMatch(/^orders-weekly .* - {2,}-$/);
  });

  it('prints one schedule a line with -o jsonl', async () => {
    // Act
    const run = await sluiceSchedules(
      '--schedules',
      schedulesFile,
      '--data-dir',
      dataDir,
      '-o',
      'jsonl',
    );

    // Assess
    const names = run.stdout
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as ScheduleRow).name);
    expect(names).toEqual(['orders-nightly', 'photos-hourly', 'orders-weekly']);
  });

  it('refuses a bad declaration with the schedule and the field, exit 2, before reaching the stack', async () => {
    // Prepare
    const bad = join(dir, 'bad-schedules.json');
    writeFileSync(
      bad,
      JSON.stringify({
        datasets: ['orders'],
        schedules: [{ name: 'orders-nightly', dataset: 'orders', expression: 'cron(0 2 * * *)' }],
      }),
    );

    // Act
    const invalid = await sluiceSchedules(
      '--schedules',
      bad,
      '--data-dir',
      join(dir, 'nothing-here'),
    );
    const missing = await sluiceSchedules(
      '--schedules',
      join(dir, 'absent.json'),
      '--data-dir',
      dataDir,
    );

    // Assess
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toBe(
      `sluice: ${bad}: schedule 'orders-nightly': expression: a cron expression has 6 fields (minutes hours day-of-month month day-of-week year); this one has 5\n`,
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(`sluice: ${join(dir, 'absent.json')}: no such schedules file\n`);
  });

  it('is what `sluice up` schedules: its scheduler has started every schedule from now', () => {
    // Act
    const state = JSON.parse(readFileSync(join(dataDir, 'schedules', 'state.json'), 'utf8'));

    // Assess: a first start fires nothing; each schedule counts from when it was first seen.
    expect(Object.keys(state).sort()).toEqual(['orders-nightly', 'orders-weekly', 'photos-hourly']);
    for (const entry of Object.values(state)) {
      expect(entry).toMatchObject({ since: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    }
    expect(service.schedules.map((s) => s.name)).toEqual([
      'orders-nightly',
      'photos-hourly',
      'orders-weekly',
    ]);
  });
});
