import { Command } from 'commander';
import { type OpsDeps, opsAction, TARGET_HELP, withOpsOptions } from '../ops/command.ts';
import { InvalidOption } from '../ops/errors.ts';
import { ATTEMPT_STATUSES } from '../ops/ledger-view.ts';
import { formatTable, writeResult } from '../ops/output.ts';
import { planReplay, planView, type ReplayResult, runReplay } from '../ops/replay.ts';

function table(items: readonly (ReplayResult | ReturnType<typeof planView>)[]): string {
  if (items.length === 0) return 'No file matches.';
  return formatTable(
    ['KEY', 'ACTION', 'RESULT'],
    items.map((item) => {
      const result = 'result' in item ? item.result : undefined;
      return {
        cells: [item.key, item.action, result ? `${result.status}` : '-'],
        details: [
          ...(item.lastError ? [`was: ${item.lastError.name}: ${item.lastError.message}`] : []),
          ...(result?.error ? [`now: ${result.error.name}: ${result.error.message}`] : []),
        ],
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
      'is skipped. Running the same replay twice starts each attempt once.\n' +
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
        const plan = await planReplay(target, String(keyOrPrefix), statuses);
        if (options.dryRun) {
          writeResult(context.stdout, context.format, plan.map(planView), table);
          return 0;
        }
        const progress = (done: number, total: number) => {
          if (context.stderr.isTTY) context.stderr.write(`\r\x1b[2Kreplayed ${done}/${total}`);
        };
        const results = await runReplay(target, plan, context.signal, progress);
        if (context.stderr.isTTY) context.stderr.write('\r\x1b[2K');
        writeResult(context.stdout, context.format, results, table);
        return results.every((item) => !item.result || item.result.status === 'SUCCEEDED') ? 0 : 1;
      },
      { interruptible: true },
    ),
  );
}

function parseStatuses(value: string): Set<string> {
  const statuses = new Set(value.split(',').map((s) => s.trim().toUpperCase()));
  const unknown = [...statuses].filter((s) => !(ATTEMPT_STATUSES as readonly string[]).includes(s));
  if (unknown.length > 0) {
    throw new InvalidOption(`--status ${value}: use ${ATTEMPT_STATUSES.join(', ')}`);
  }
  return statuses;
}
