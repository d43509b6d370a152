import { Command } from 'commander';
import { type OpsDeps, opsAction, TARGET_HELP, withOpsOptions } from '../ops/command.ts';
import { InvalidOption } from '../ops/errors.ts';
import type { ExecutionRow } from '../ops/ledger-view.ts';
import { formatDuration, formatTable, shortTime, writeResult } from '../ops/output.ts';
import { ATTEMPT_STATUSES, parseStatuses } from '../ops/statuses.ts';
import { parseSince } from '../ops/time.ts';

function parseLimit(value: string): number {
  const limit = Number(value);
  if (!Number.isInteger(limit) || limit < 1) {
    throw new InvalidOption(`--limit ${value}: give a whole number of at least 1`);
  }
  return limit;
}

function table(rows: readonly ExecutionRow[]): string {
  if (rows.length === 0) return 'No file versions match.';
  return formatTable(
    ['STARTED', 'STATUS', 'KIND', 'DURATION', 'ATTEMPT', 'KEY'],
    rows.map((row) => ({
      cells: [
        shortTime(row.startDate),
        row.status,
        row.kind,
        formatDuration(row.durationMs),
        String(row.attempt),
        row.key,
      ],
      details: row.error ? [`${row.error.name}: ${row.error.message}`] : [],
    })),
  );
}

/** `sluice executions`: one row per file version, newest first. */
export function executionsCommand(deps: OpsDeps = {}): Command {
  const command = new Command('executions')
    .description(
      'List the files the stack processed: one row per file version (an upload with new ' +
        "content is a new version), as its latest attempt left it, newest first. Reads the run's " +
        'ledger (DynamoDB) and asks Step Functions about attempts still marked PROCESSING.',
    )
    .option(
      '--status <statuses>',
      `keep these statuses, comma-separated: ${ATTEMPT_STATUSES.join(', ')}`,
    )
    .option(
      '--dataset <dataset>',
      "keep one dataset's files (read through the byDatasetStatus index)",
    )
    .option(
      '--since <time>',
      'keep versions whose latest attempt ended (or, still running, started) since then: an ISO time or 30m, 1h, 2d',
    )
    .option('--limit <n>', 'print at most n rows, the newest');
  withOpsOptions(command).addHelpText(
    'after',
    '\nOutput (-o json): an array, newest first, of\n' +
      '  { key, dataset, kind, status, executionArn, startDate, stopDate, error,\n' +
      '    bucket, versionTag, attempt, attempts, duplicates, size, durationMs }\n' +
      'with times in ISO 8601 and error as { name, message } or null.\n\n' +
      'Statuses: PROCESSING (its execution runs), SUCCEEDED, QUARANTINED (error recorded, copy in\n' +
      'quarantine/), FAILED (error recorded, no copy could be made, or its execution failed without\n' +
      'recording), ABORTED and TIMED_OUT (its execution stopped before recording anything).\n' +
      'Skipped duplicate events are no rows: `sluice show <key>` counts them.\n' +
      `${TARGET_HELP}\n\n` +
      'Exit codes: 0 listed (even none); 1 the stack failed to answer;\n' +
      '            2 usage errors: a bad option, a stopped stack, an unreachable endpoint.',
  );
  return command.action(
    opsAction(deps, async (context, _args, options) => {
      const filters = {
        statuses: options.status === undefined ? undefined : parseStatuses(String(options.status)),
        dataset: options.dataset === undefined ? undefined : String(options.dataset),
        since: options.since === undefined ? undefined : parseSince(String(options.since)),
        limit: options.limit === undefined ? undefined : parseLimit(String(options.limit)),
      };
      const { listFileVersions } = await import('../ops/ledger-view.ts');
      const rows = await listFileVersions(await context.target(), filters);
      writeResult(context.stdout, context.format, rows, table);
      return 0;
    }),
  );
}
