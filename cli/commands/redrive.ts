import type { ExecutionStatus } from '@aws-sdk/client-sfn';
import { Command } from 'commander';
import {
  type OpsDeps,
  opsAction,
  planThenRun,
  TARGET_HELP,
  withOpsOptions,
} from '../ops/command.ts';
import { InvalidOption } from '../ops/errors.ts';
import { errorDetails, formatTable, writeResult } from '../ops/output.ts';
import type {
  DeadLetterPlan,
  DeadLetterResult,
  RedrivePlanItem,
  RedriveResult,
} from '../ops/redrive.ts';
import { REDRIVABLE_STATUSES } from '../ops/statuses.ts';
import { parseSince } from '../ops/time.ts';

function table(entries: readonly unknown[]): string {
  const items = entries as readonly (RedriveResult | RedrivePlanItem)[];
  if (items.length === 0) return 'No execution matches.';
  return formatTable(
    ['KEY', 'ACTION', 'RESULT', 'EXECUTION'],
    items.map((item) => {
      const result = 'result' in item ? item.result : undefined;
      return {
        cells: [
          item.key ?? '-',
          item.action,
          result ? `${result.status} (redrive ${result.redriveCount})` : '-',
          item.executionArn.split(':').pop() ?? item.executionArn,
        ],
        details: errorDetails(item.lastError, result?.error),
      };
    }),
  );
}

function parseStatus(value: string): ExecutionStatus[] {
  const status = value.trim().toUpperCase();
  if (!(REDRIVABLE_STATUSES as readonly string[]).includes(status)) {
    throw new InvalidOption(`--status ${value}: use ${REDRIVABLE_STATUSES.join(', ')}`);
  }
  return [status as ExecutionStatus];
}

/** `sluice redrive`: RedriveExecution, from the state that failed, as on AWS. */
export function redriveCommand(deps: OpsDeps = {}): Command {
  const command = new Command('redrive')
    .description(
      'Redrive failed executions (RedriveExecution): each goes on from the state where it ' +
        'stopped, keeping its ARN, and re-runs only the Map iterations and Parallel branches that ' +
        'failed. Without ARNs, every FAILED, ABORTED and TIMED_OUT execution of ProcessFile. ' +
        'Waits for them to finish and prints how each ended.',
    )
    .argument('[executionArn...]', 'the executions to redrive')
    .option(
      '--status <status>',
      `only executions in this status: ${REDRIVABLE_STATUSES.join(', ')}`,
    )
    .option('--since <time>', 'only executions that stopped since then: an ISO time or 30m, 1h, 2d')
    .option(
      '--dry-run',
      'print each execution, its last error and what would happen; change nothing',
    )
    .option(
      '--dlq',
      "instead, move the upload queue's dead letters (events that never started an execution) back to the queue",
    );
  withOpsOptions(command).addHelpText(
    'after',
    '\nOutput (-o json): an array of { key, executionArn, lastError, action }, where action is\n' +
      '"redrive (it stopped in <state>)" or "skip: why"; without --dry-run each also has\n' +
      'result: { status, redriveCount, error } (null when skipped). Only FAILED, ABORTED and\n' +
      'TIMED_OUT executions that closed in the last 14 days can be redriven, as on AWS.\n' +
      'With --dlq: [{ queue, queueArn, messages, action }] (and result: { taskHandle }), through\n' +
      "SQS's StartMessageMoveTask, locally as on AWS.\n" +
      `${TARGET_HELP}\n\n` +
      'Exit codes: 0 planned (--dry-run), or every redriven execution SUCCEEDED;\n' +
      '            1 a redriven execution ended otherwise, or the stack failed to answer;\n' +
      '            2 usage errors: no such execution, a bad option, a stopped stack.',
  );
  return command.action(
    opsAction(
      deps,
      async (context, args, options) => {
        const [executionArns = []] = args as unknown as [string[] | undefined];
        const target = await context.target();
        const { planDeadLetters, planRedrive, planView, runDeadLetters, runRedrive } = await import(
          '../ops/redrive.ts'
        );
        if (options.dlq) {
          const plan = await planDeadLetters(target);
          const done: DeadLetterResult | DeadLetterPlan = options.dryRun
            ? plan
            : await runDeadLetters(target, plan);
          const moved = (item: DeadLetterResult | DeadLetterPlan) =>
            'result' in item && item.result ? `moved (task ${item.result.taskHandle})` : '-';
          writeResult(context.stdout, context.format, [done], (items) =>
            formatTable(
              ['QUEUE', 'MESSAGES', 'ACTION', 'RESULT'],
              items.map((item) => [item.queue, String(item.messages), item.action, moved(item)]),
            ),
          );
          return 0;
        }
        const plan = await planRedrive(target, {
          executionArns,
          statuses: options.status === undefined ? undefined : parseStatus(String(options.status)),
          since: options.since === undefined ? undefined : parseSince(String(options.since)),
        });
        return planThenRun(context, plan, {
          dryRun: Boolean(options.dryRun),
          verb: 'redriven',
          view: planView,
          run: (onProgress) => runRedrive(target, plan, context.signal, onProgress),
          table,
        });
      },
      { interruptible: true },
    ),
  );
}
