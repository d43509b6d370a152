import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { type BatchCounts, batchLedgerKey, DEFAULT_BATCH_CONCURRENCY } from '#commons/batch.ts';
import type { BatchSchedule } from '#commons/schedules.ts';
import { PROJECT_ROOT } from '#local/project-root.ts';
import { type OpsDeps, opsAction, TARGET_HELP, withOpsOptions } from '../ops/command.ts';
import { InvalidOption } from '../ops/errors.ts';
import { formatTable, shortTime, writeResult } from '../ops/output.ts';
import type { OpsTarget } from '../ops/target.ts';

/**
 * Same as SCHEDULES_FILE in functions/commons/schedules.ts, which (with zod and croner) loads
 * only when a command reads the declaration, so `--help` starts fast.
 */
const SCHEDULES_FILE = 'schedules.json';

/**
 * The declaration `sluice up` and `sluice schedules` read: `--schedules`, else
 * `$SLUICE_SCHEDULES`, else the project's schedules.json. `named` says the user chose it, so it
 * must exist; the project's may not, and then declares no schedules.
 */
export function schedulesFileOf(option: string | undefined): {
  readonly path: string;
  readonly named: boolean;
} {
  const named = option ?? (process.env.SLUICE_SCHEDULES || undefined);
  return named === undefined
    ? { path: join(PROJECT_ROOT, SCHEDULES_FILE), named: false }
    : { path: resolve(named), named: true };
}

/** How a schedule's last batch ended: FAILED when it exceeded its tolerated failures. */
export type BatchOutcome = 'SUCCEEDED' | 'FAILED';

/** One schedule as `sluice schedules -o json` prints it. A public contract. */
export interface ScheduleRow
  extends Pick<
    BatchSchedule,
    'name' | 'dataset' | 'expression' | 'timeZone' | 'prefix' | 'mode' | 'flexibleWindowMinutes'
  > {
  /** ISO 8601, UTC. */
  readonly nextRun: string;
  readonly lastRun: {
    readonly batchId: string;
    readonly startDate: string;
    readonly stopDate: string;
    readonly files: number;
    readonly counts: BatchCounts;
    readonly outcome: BatchOutcome;
  } | null;
}

/** The latest batch of a schedule: its ledger partition sorts by start, so one item, newest. */
async function lastRunOf(target: OpsTarget, name: string): Promise<ScheduleRow['lastRun']> {
  const { QueryCommand } = await import('@aws-sdk/lib-dynamodb');
  const { Items = [] } = await target.dynamodb.send(
    new QueryCommand({
      TableName: target.names.table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': batchLedgerKey(name) },
      ScanIndexForward: false,
      Limit: 1,
    }),
  );
  const item = Items[0];
  if (!item) return null;
  return {
    batchId: String(item.batchId),
    startDate: String(item.startDate),
    stopDate: String(item.stopDate),
    files: Number(item.files ?? 0),
    counts: (item.counts ?? {}) as BatchCounts,
    outcome: item.exceeded ? 'FAILED' : 'SUCCEEDED',
  };
}

function rowOf(schedule: BatchSchedule, next: Date, lastRun: ScheduleRow['lastRun']): ScheduleRow {
  return {
    name: schedule.name,
    dataset: schedule.dataset,
    expression: schedule.expression,
    timeZone: schedule.timeZone,
    prefix: schedule.prefix,
    mode: schedule.mode,
    flexibleWindowMinutes: schedule.flexibleWindowMinutes,
    nextRun: next.toISOString(),
    lastRun,
  };
}

/** `12 files: 10 SUCCEEDED, 2 QUARANTINED`. */
function countsLine(run: NonNullable<ScheduleRow['lastRun']>): string {
  const counts = Object.entries(run.counts)
    .filter(([, count]) => count !== undefined && count > 0)
    .map(([status, count]) => `${count} ${status}`);
  return `last batch ${run.batchId}: ${run.files} file(s)${counts.length > 0 ? `: ${counts.join(', ')}` : ''}`;
}

function table(file: string, rows: readonly ScheduleRow[]): string {
  if (rows.length === 0) return `No schedules declared in ${file}.`;
  return formatTable(
    [
      'NAME',
      'DATASET',
      'EXPRESSION',
      'TIME ZONE',
      'PREFIX',
      'MODE',
      'NEXT RUN',
      'LAST RUN',
      'OUTCOME',
    ],
    rows.map((row) => ({
      cells: [
        row.name,
        row.dataset,
        row.expression,
        row.timeZone,
        row.prefix,
        row.mode,
        shortTime(row.nextRun),
        shortTime(row.lastRun?.startDate),
        row.lastRun?.outcome ?? '-',
      ],
      details: row.lastRun ? [countsLine(row.lastRun)] : [],
    })),
  );
}

/** `sluice schedules`: the declared batch schedules, when each runs next and how it last ended. */
export function schedulesCommand(deps: OpsDeps = {}): Command {
  const command = new Command('schedules')
    .description(
      'List the batch schedules declared in schedules.json: each one starts the ProcessBatch ' +
        'state machine over a prefix of incoming/, through EventBridge Scheduler on AWS and ' +
        "through `sluice up` offline. Shows each schedule's next run, and its last batch as the " +
        "run's ledger (DynamoDB) holds it.",
    )
    .option(
      '--schedules <file>',
      'the declaration (default: $SLUICE_SCHEDULES, else schedules.json at the project root)',
    );
  withOpsOptions(command).addHelpText(
    'after',
    '\nThe declaration:\n' +
      '  { "datasets": ["customers", "orders", "photos"],\n' +
      '    "schedules": [{ "name": "orders-nightly", "dataset": "orders",\n' +
      '                    "expression": "cron(0 2 * * ? *)", "timeZone": "Europe/London",\n' +
      '                    "prefix": "incoming/orders/", "mode": "new",\n' +
      '                    "flexibleWindowMinutes": 30, "maxConcurrency": 10 }] }\n' +
      "expression is EventBridge Scheduler's: cron(minutes hours day-of-month month day-of-week\n" +
      'year), with ? in one of the day fields, days 1-7 = SUN-SAT, L, W and #, and * for the year;\n' +
      'or rate(N minute|minutes|hour|hours|day|days), which offline counts from the Unix epoch\n' +
      "(AWS counts from the schedule's creation). Defaults: timeZone UTC, prefix\n" +
      'incoming/<dataset>/, mode new (versions with no final status yet; reprocess: every\n' +
      `version), flexibleWindowMinutes 0 (off), maxConcurrency ${DEFAULT_BATCH_CONCURRENCY}.\n\n` +
      'A dataset may instead be { "name": "orders", "arrival": { "expression": "cron(0 6 * * ? *)",\n' +
      '  "timeZone": "UTC", "graceMinutes": 60 }, "rows": { "min": 1, "max": 50000,\n' +
      '  "maxChangePercent": 50, "trailing": 7 } }: a late feed or an odd row count publishes a\n' +
      '  notice (README: Expected arrival and row counts; `sluice alerts` lists them offline).\n\n' +
      'Output (-o json): { schedules: [ { name, dataset, expression, timeZone, prefix, mode,\n' +
      '  flexibleWindowMinutes, nextRun, lastRun } ] } with nextRun in ISO 8601 (UTC), and lastRun\n' +
      '  { batchId, startDate, stopDate, files, counts, outcome } or null when it never ran;\n' +
      '  outcome is FAILED when more children failed than the batch tolerates, else SUCCEEDED.\n' +
      '  -o jsonl prints one schedule a line.\n' +
      `${TARGET_HELP}\n\n` +
      'Exit codes: 0 listed (even none); 1 the stack failed to answer;\n' +
      '            2 usage errors: a bad or missing --schedules file, a stopped stack, an\n' +
      '              unreachable endpoint.',
  );
  return command.action(
    opsAction(deps, async (context, _args, options) => {
      const file = schedulesFileOf(
        options.schedules === undefined ? undefined : String(options.schedules),
      );
      if (file.named && !existsSync(file.path)) {
        throw new InvalidOption(`${file.path}: no such schedules file`);
      }
      const { nextRun, readSchedules } = await import('#commons/schedules.ts');
      let schedules: BatchSchedule[];
      try {
        schedules = readSchedules(file.path);
      } catch (error) {
        if ((error as Error).name === 'InvalidSchedules') {
          throw new InvalidOption((error as Error).message);
        }
        throw error;
      }
      const target = await context.target();
      const now = new Date();
      const rows = await Promise.all(
        schedules.map(async (schedule) =>
          rowOf(schedule, nextRun(schedule, now), await lastRunOf(target, schedule.name)),
        ),
      );
      if (context.format === 'jsonl') {
        writeResult(context.stdout, 'jsonl', rows, () => '');
      } else {
        writeResult(context.stdout, context.format, { schedules: rows }, (view) =>
          table(file.path, view.schedules),
        );
      }
      return 0;
    }),
  );
}
