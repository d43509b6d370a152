import { Command } from 'commander';
import {
  type OpsDeps,
  opsAction,
  planThenRun,
  TARGET_HELP,
  withOpsOptions,
} from '../ops/command.ts';
import { errorDetails, formatTable } from '../ops/output.ts';
import type { ReplayPlanItem, ReplayResult } from '../ops/replay.ts';
import { ATTEMPT_STATUSES, parseStatuses } from '../ops/statuses.ts';

function table(entries: readonly unknown[]): string {
  const items = entries as readonly (ReplayResult | ReplayPlanItem)[];
  if (items.length === 0) return 'No file matches.';
  return formatTable(
    ['KEY', 'ACTION', 'RESULT'],
    items.map((item) => {
      const result = 'result' in item ? item.result : undefined;
      return {
        cells: [item.key, item.action, result ? `${result.status}` : '-'],
        details: errorDetails(item.lastError, result?.error),
      };
    }),
  );
}

/** `sluice replay`: a new attempt at a file version, after its schema or variants were fixed. */
export function replayCommand(deps: OpsDeps = {}): Command {
  const command = new Command('replay')
    .description(
      'Process a file version again as a new attempt, after its schema or variants were fixed: ' +
        'a new execution named after the version and the attempt number. The ledger keeps ' +
        "every attempt, and the file's status becomes the new attempt's. Waits for the attempts " +
        'to finish and prints how each ended.',
    )
    .argument('<key-or-prefix>', 'an incoming/ key, or a prefix: every file under it')
    .option(
      '--status <statuses>',
      `replay only versions whose latest attempt has one of these statuses, comma-separated: ${ATTEMPT_STATUSES.join(', ')}`,
    )
    .option('--dry-run', 'print each file, its last error and what would happen; change nothing');
  withOpsOptions(command).addHelpText(
    'after',
    '\nOutput (-o json): an array of { key, executionArn, lastError, action }, where\n' +
      'executionArn is the latest attempt\'s and action is "replay as attempt N" or "skip: why";\n' +
      'without --dry-run each also has result: { attempt, executionArn, status, error } (null\n' +
      'when skipped). A file whose latest attempt still runs, or whose key holds a newer upload,\n' +
      'is skipped. A replay run again while its attempt still runs waits for it instead of\n' +
      'starting another; result.status NOT_STARTED (with its error) says an attempt could not start.\n' +
      `${TARGET_HELP}\n\n` +
      'Exit codes: 0 planned (--dry-run), or every replayed file ended SUCCEEDED;\n' +
      '            1 a replayed file ended otherwise, or the stack failed to answer;\n' +
      '            2 usage errors: no such file, a bad option, a stopped stack.',
  );
  return command.action(
    opsAction(
      deps,
      async (context, [keyOrPrefix], options) => {
        const statuses =
          options.status === undefined ? undefined : parseStatuses(String(options.status));
        const target = await context.target();
        const { planReplay, planView, runReplay } = await import('../ops/replay.ts');
        const plan = await planReplay(target, String(keyOrPrefix), statuses);
        return planThenRun(context, plan, {
          dryRun: Boolean(options.dryRun),
          verb: 'replayed',
          view: planView,
          run: (onProgress) => runReplay(target, plan, context.signal, onProgress),
          table,
        });
      },
      { interruptible: true },
    ),
  );
}
