import { Command } from 'commander';
import { type OpsDeps, opsAction, TARGET_HELP, withOpsOptions } from '../ops/command.ts';
import type { FileView } from '../ops/file-view.ts';
import { formatBytes, formatDuration, formatTable, shortTime, writeResult } from '../ops/output.ts';

const errorText = (error: { name: string; message: string } | null) =>
  error ? `${error.name}: ${error.message}` : '';

function table(view: FileView): string {
  const sections: string[] = [];
  const facts: [string, string][] = [
    ['KEY', view.key ?? '-'],
    ['STATUS', [view.status, errorText(view.error)].filter(Boolean).join('  ')],
    ['DATASET', view.dataset ?? '-'],
    ['KIND', view.kind ?? '-'],
    ['SIZE', view.size === null ? '-' : formatBytes(view.size)],
    ['VERSION', view.versionTag ?? '-'],
    [
      'EXECUTION',
      `${view.executionArn ?? '-'}${view.executionStatus ? ` (${view.executionStatus})` : ''}`,
    ],
  ];
  if (view.duplicates > 0) facts.push(['DUPLICATES', `${view.duplicates} event(s) skipped`]);
  if (view.versions.length > 1)
    facts.push(['VERSIONS', `${view.versions.length} (-o json lists them)`]);
  const width = Math.max(...facts.map(([label]) => label.length));
  sections.push(facts.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n'));

  sections.push(
    `ATTEMPTS\n${formatTable(
      ['#', 'STATUS', 'STARTED', 'DURATION', 'EXECUTION'],
      view.attempts.map((a) => ({
        cells: [
          String(a.attempt),
          a.status,
          shortTime(a.startDate),
          formatDuration(a.durationMs),
          a.executionArn,
        ],
        details: a.error ? [errorText(a.error)] : [],
      })),
    )}`,
  );
  if (view.states.length > 0) {
    sections.push(
      `STATES\n${formatTable(
        ['STATE', 'TYPE', 'STATUS', 'DURATION', 'RETRIES'],
        view.states.map((s) => ({
          cells: [s.name, s.type, s.status, formatDuration(s.durationMs), String(s.retries)],
          details: [
            ...(s.iterations
              ? [
                  `iterations: ${s.iterations.started} started, ${s.iterations.succeeded} succeeded, ${s.iterations.failed} failed`,
                ]
              : []),
            ...(s.error ? [errorText(s.error)] : []),
          ],
        })),
      )}`,
    );
  }
  sections.push(
    view.outputs.length > 0 ? `OUTPUTS\n${view.outputs.join('\n')}` : 'OUTPUTS\n(none)',
  );
  if (view.logsNote) {
    sections.push(`LOGS\n(${view.logsNote})`);
  } else {
    sections.push(
      `LOGS (${view.logs.length})\n${
        view.logs
          .map((line) =>
            [
              shortTime(String(line.timestamp ?? '')),
              String(line.level ?? '').padEnd(5),
              line.function.padEnd(18),
              String(line.message ?? ''),
              line.error ? JSON.stringify(line.error) : '',
            ]
              .join('  ')
              .trimEnd(),
          )
          .join('\n') || '(none)'
      }`,
    );
  }
  return sections.join('\n\n');
}

/** `sluice show <key|executionArn>`: one file, its attempts, states, outputs and logs. */
export function showCommand(deps: OpsDeps = {}): Command {
  const command = new Command('show')
    .description(
      'Show one file: its ledger item with every attempt, the states of its execution (the ' +
        "latest attempt's, or the one named) with durations, retries and errors, its outputs, " +
        "and its execution's function log lines.",
    )
    .argument(
      '<ref>',
      'an object key (incoming/orders/jan.csv; "orders/jan.csv" is looked up under incoming/ too), s3://bucket/key, or an execution ARN',
    );
  withOpsOptions(command).addHelpText(
    'after',
    '\nOutput (-o json): one object\n' +
      '  { key, bucket, dataset, kind, size, versionTag, status, error, executionArn,\n' +
      '    executionStatus, duplicates,\n' +
      '    attempts[] { attempt, status, executionArn, error, startDate, stopDate, durationMs, outputs },\n' +
      '    versions[] { versionTag, status, startDate, executionArn },\n' +
      '    states[] { name, type, status, startDate, stopDate, durationMs, retries, error, iterations? },\n' +
      '    outputs[], summary, logs[], logsNote }\n' +
      "status is the latest attempt's, as in `sluice executions`. A state is SUCCEEDED (perhaps\n" +
      'after retries), CAUGHT (it failed and a Catch went on), FAILED (it failed the execution),\n' +
      'RUNNING, ABORTED or TIMED_OUT; retries counts failed attempts that were tried again.\n' +
      'Logs: the local JSON log lines of the execution (<data dir>/logs/*.log); against --stack\n' +
      'logs is empty and logsNote says where they are (CloudWatch Logs is not read yet).\n' +
      `${TARGET_HELP}\n\n` +
      'Exit codes: 0 shown; 1 the stack failed to answer;\n' +
      '            2 usage errors: an unknown key or ARN, a stopped stack, an unreachable endpoint.',
  );
  return command.action(
    opsAction(deps, async (context, [ref]) => {
      const view = await (await import('../ops/file-view.ts')).showFile(
        await context.target(),
        ref ?? '',
      );
      writeResult(context.stdout, context.format, view, table);
      return 0;
    }),
  );
}
