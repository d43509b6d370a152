import { Command } from 'commander';
import { EXIT_FAILURE } from '../exit-codes.ts';
import {
  type OpsContext,
  type OpsDeps,
  opsAction,
  TARGET_HELP,
  withOpsOptions,
} from '../ops/command.ts';
import { formatDuration, formatRow } from '../ops/output.ts';
import type { WatchEvent } from '../ops/watch.ts';

/** Exit code when Ctrl-C ends `watch <execution>` before the execution does. */
const EXIT_INTERRUPTED = 130;

/** Fixed columns: the lines are printed as they come, so no later line can widen them. */
const WIDTHS = [24, 22, 20];

function line(event: WatchEvent, withKey: boolean): string {
  const detail = [
    event.status ?? '',
    event.fileStatus ? `(file ${event.fileStatus})` : '',
    event.durationMs === null ? '' : formatDuration(event.durationMs),
    event.error ? `${event.error.name}: ${event.error.message}` : '',
    withKey ? (event.key ?? event.executionArn) : '',
  ]
    .filter(Boolean)
    .join('  ');
  return formatRow([event.timestamp ?? '-', event.type, event.state ?? '', detail], WIDTHS);
}

/** Prints each event as it comes (table, jsonl), or all of them once the watch ends (json). */
function printer(context: OpsContext, withKey: boolean) {
  const collected: WatchEvent[] = [];
  return {
    emit(event: WatchEvent) {
      if (context.format === 'json') collected.push(event);
      else if (context.format === 'jsonl') context.stdout.write(`${JSON.stringify(event)}\n`);
      else context.stdout.write(`${line(event, withKey)}\n`);
    },
    end() {
      if (context.format === 'json')
        context.stdout.write(`${JSON.stringify(collected, null, 2)}\n`);
    },
  };
}

/** `sluice watch [execution]`: follow one execution to its end, or tail them all. */
export function watchCommand(deps: OpsDeps = {}): Command {
  const command = new Command('watch')
    .description(
      'Follow executions live. With an execution ARN (or a key, for its latest attempt): print ' +
        'its history so far, then each new event, until it ends. Without: print each execution ' +
        'that starts or ends from now on, until Ctrl-C. Polls about every 500 ms.',
    )
    .argument('[ref]', 'an execution ARN, or an object key for its latest attempt');
  withOpsOptions(command).addHelpText(
    'after',
    '\nOutput: -o jsonl prints one event per line as it comes; -o json prints them all as one\n' +
      'array when the watch ends; the table prints a line per event. Each event is\n' +
      '  { executionArn, key, id, timestamp, type, state, status, error, durationMs, fileStatus? }\n' +
      'type is the history event type (TaskStateEntered, TaskFailed, ExecutionSucceeded, ...) with\n' +
      'one execution, and ExecutionStarted / ExecutionSucceeded / ExecutionFailed /\n' +
      'ExecutionAborted / ExecutionTimedOut without; the events that end an execution carry its\n' +
      'status and fileStatus, the status the file got in the ledger (a QUARANTINED file has a\n' +
      'SUCCEEDED execution: the pipeline handled its failure).\n' +
      `${TARGET_HELP}\n\n` +
      'Exit codes: with an execution: 0 it ended SUCCEEDED; 1 it ended FAILED, ABORTED or\n' +
      '            TIMED_OUT; 130 Ctrl-C first. Without: 0 after Ctrl-C.\n' +
      '            2 usage errors: an unknown ARN or key, a stopped stack, an unreachable endpoint.',
  );
  return command.action(
    opsAction(
      deps,
      async (context, [ref]) => {
        const target = await context.target();
        const { executionOf, followExecution, tailExecutions } = await import('../ops/watch.ts');
        if (ref === undefined) {
          const out = printer(context, true);
          await tailExecutions(
            target,
            (event) => out.emit(event),
            context.signal,
            undefined,
            // Once the executions so far are known: what starts or ends from here on is printed.
            () => context.stderr.write(`watching ${target.description}; Ctrl-C to stop\n`),
          );
          out.end();
          return 0;
        }
        const executionArn = await executionOf(target, ref);
        const out = printer(context, false);
        const status = await followExecution(
          target,
          executionArn,
          (event) => out.emit(event),
          context.signal,
        );
        out.end();
        if (status === undefined) return EXIT_INTERRUPTED;
        return status === 'SUCCEEDED' ? 0 : EXIT_FAILURE;
      },
      { interruptible: true },
    ),
  );
}
