import { Command } from 'commander';
import {
  type BatchSummary,
  DEFAULT_BATCH_CONCURRENCY,
  TOLERATED_FAILURE_PERCENTAGE,
} from '#commons/batch.ts';
import type { BatchPlanView } from '../ops/batch.ts';
import { type OpsDeps, opsAction, TARGET_HELP, withOpsOptions } from '../ops/command.ts';
import { InvalidOption } from '../ops/errors.ts';
import { formatTable, writeResult } from '../ops/output.ts';

/** Distributed Map's own ceiling on MaxConcurrency. */
const MAX_CONCURRENCY = 10_000;

function parseConcurrency(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_CONCURRENCY) {
    throw new InvalidOption(
      `--max-concurrency ${value}: give a whole number from 1 to ${MAX_CONCURRENCY}`,
    );
  }
  return n;
}

function planTable(view: BatchPlanView): string {
  if (view.files === 0) return `No object under ${view.prefix}: a batch would process nothing.`;
  const processed = view.plan.filter((item) => item.action === 'process').length;
  return [
    formatTable(
      ['ACTION', 'KEY', 'REASON'],
      view.plan.map((item) => [item.action, item.key, item.reason]),
    ),
    `${view.files} files under ${view.prefix}: ${processed} would be processed, ${view.files - processed} skipped.`,
  ].join('\n');
}

function summaryTable(summary: BatchSummary): string {
  const counts = Object.entries(summary.counts).sort(([a], [b]) => a.localeCompare(b));
  const lines = [
    `batch ${summary.batchId} (${summary.mode}) over ${summary.prefix}: ${summary.files} files`,
  ];
  if (counts.length > 0)
    lines.push(
      formatTable(
        ['STATUS', 'FILES'],
        counts.map(([s, n]) => [s, String(n)]),
      ),
    );
  if (summary.exceeded) {
    lines.push(
      `${summary.failurePercentage}% of the files failed to reach a final status, more than the tolerated ${TOLERATED_FAILURE_PERCENTAGE}%`,
    );
  }
  lines.push(`summary: ${summary.summaryKey} in the bucket`);
  return lines.join('\n');
}

/** `sluice batch`: reprocess a prefix through ProcessBatch, now. */
export function batchCommand(deps: OpsDeps = {}): Command {
  const command = new Command('batch')
    .description(
      'Process every file under a prefix of incoming/ through the ProcessBatch state machine, ' +
        'as a schedule would: each file version is handed to ProcessFile, the path an upload ' +
        'takes, so the ledger keeps one item per attempt. By default only versions with no final ' +
        'status yet are processed (missed events, outages); the rest count as SKIPPED_DUPLICATE. ' +
        'Waits for the batch, showing files done out of the total on a terminal, and prints its summary.',
    )
    .argument('<prefix>', 'a prefix under incoming/, e.g. incoming/orders/')
    .option(
      '--reprocess',
      'process every version again as a new attempt (after a schema or variants change)',
    )
    .option('--dry-run', 'list each file, whether it would be processed and why; change nothing')
    .option(
      '--max-concurrency <n>',
      `child executions at once (1 to ${MAX_CONCURRENCY})`,
      String(DEFAULT_BATCH_CONCURRENCY),
    );
  withOpsOptions(command).addHelpText(
    'after',
    '\nOutput (-o json): { batchId, prefix, mode, files, counts: { <status>: n }, startDate,\n' +
      '  stopDate, summaryKey, schedule, failurePercentage, exceeded, executionArn }, where mode is\n' +
      '  "new" or "reprocess", counts are file statuses (SUCCEEDED, QUARANTINED, FAILED,\n' +
      '  SKIPPED_DUPLICATE) and summaryKey is the batches/<id>.json object holding the same.\n' +
      'With --dry-run: { prefix, files, plan: [{ key, action, reason }] }, action "process" or "skip".\n' +
      `${TARGET_HELP}\n\n` +
      "Exit codes: 0 the batch finished (whatever the files' statuses), or --dry-run;\n" +
      `            1 more than ${TOLERATED_FAILURE_PERCENTAGE}% of the files failed to reach a final status, or the batch failed;\n` +
      '            2 usage errors: a prefix outside incoming/, a bad option, a stopped stack.',
  );
  return command.action(
    opsAction(
      deps,
      async (context, [prefixArgument], options) => {
        const { batchPrefix, planBatch, runBatch } = await import('../ops/batch.ts');
        const prefix = batchPrefix(String(prefixArgument));
        const maxConcurrency = parseConcurrency(String(options.maxConcurrency));
        const mode = options.reprocess ? 'reprocess' : 'new';
        const target = await context.target();
        const { stdout, stderr, format } = context;
        if (options.dryRun) {
          writeResult(stdout, format, await planBatch(target, prefix, mode), planTable);
          return 0;
        }
        const { manualBatchId } = await import('#commons/batch.ts');
        const batchId = manualBatchId(new Date());
        const run = await runBatch(
          target,
          { batchId, prefix, mode, schedule: null, maxConcurrency },
          context.signal,
          (done, total) => {
            if (stderr.isTTY) stderr.write(`\r\x1b[2Kbatch ${batchId}: ${done}/${total} files`);
          },
        );
        if (stderr.isTTY) stderr.write('\r\x1b[2K');
        if (run.status === 'RUNNING') {
          stderr.write(
            `sluice: stopped watching; batch ${batchId} goes on (${run.executionArn})\n`,
          );
          return 1;
        }
        if (!run.summary) {
          stderr.write(
            `sluice: batch ${batchId} ${run.status}: ${run.error ?? ''} ${run.cause ?? ''}`.trimEnd() +
              '\n',
          );
          return 1;
        }
        writeResult(stdout, format, run.summary, summaryTable);
        return run.summary.exceeded ? 1 : 0;
      },
      { interruptible: true },
    ),
  );
}
