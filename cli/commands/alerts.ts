import { Command } from 'commander';
import { NOTICE_KINDS as KINDS, type NoticeBody, type NoticeKind } from '#commons/notices.ts';
import { type OpsDeps, opsAction, TARGET_HELP, withOpsOptions } from '../ops/command.ts';
import { InvalidOption } from '../ops/errors.ts';
import { formatTable, shortTime, writeResult } from '../ops/output.ts';
import { parseSince } from '../ops/time.ts';

/** One notice as `sluice alerts -o json` prints it. A public contract. */
export interface AlertRow {
  readonly messageId: string;
  /** ISO 8601: when the topic got it. */
  readonly publishedAt: string;
  /** A NoticeKind (`FileQuarantined`, `LateArrival`, …); null for a message sluice did not write. */
  readonly kind: NoticeKind | null;
  readonly subject: string | null;
  readonly dataset: string | null;
  /** The file's key, or the batch's prefix. */
  readonly key: string | null;
  readonly status: string | null;
  readonly error: NoticeBody['error'];
  readonly executionArn: string | null;
  /** The message as published, for one that is not a sluice notice. */
  readonly message: string;
}

function rowOf(published: {
  messageId: string;
  publishedAt: string;
  subject: string | null;
  message: string;
}): AlertRow {
  let body: Partial<NoticeBody> = {};
  try {
    const parsed = JSON.parse(published.message) as Partial<NoticeBody>;
    if (KINDS.includes(parsed.kind as NoticeKind)) body = parsed;
  } catch {
    // Published by someone else (`aws sns publish`): shown as it came.
  }
  return {
    messageId: published.messageId,
    publishedAt: published.publishedAt,
    kind: body.kind ?? null,
    subject: published.subject,
    dataset: body.dataset ?? null,
    key: body.key ?? null,
    status: body.status ?? null,
    error: body.error ?? null,
    executionArn: body.executionArn ?? null,
    message: published.message,
  };
}

function table(rows: readonly AlertRow[]): string {
  if (rows.length === 0) return 'No alerts.';
  return formatTable(
    ['TIME', 'KIND', 'DATASET', 'KEY', 'STATUS', 'ERROR'],
    rows.map((row) => ({
      cells: [
        shortTime(row.publishedAt),
        row.kind ?? '-',
        row.dataset ?? '-',
        row.key ?? '-',
        row.status ?? '-',
        row.error?.name ?? '-',
      ],
      details:
        row.kind === null ? [row.subject ?? row.message] : row.error ? [row.error.message] : [],
    })),
  );
}

/** `sluice alerts`: what the functions published to the notice topic of a local stack. */
export function alertsCommand(deps: OpsDeps = {}): Command {
  const command = new Command('alerts')
    .description(
      'List the notices published to the notice topic: a file that ended FAILED or QUARANTINED, ' +
        'a batch over its failure tolerance, a dataset whose files are late, and a CSV whose row ' +
        'count left its expected range, each with its dataset, key, error and ' +
        'execution. On AWS the same messages go to the SNS topic (the AlarmTopicArn output) ' +
        'and reach its subscribers; offline `sluice up` keeps them, prints each one, and this ' +
        'command lists them, oldest first.',
    )
    .option('--since <time>', 'only notices from then on: an ISO time, or 30m, 2h, 1d back')
    .option('--kind <kinds>', `only these kinds, comma-separated: ${KINDS.join(', ')}`);
  withOpsOptions(command).addHelpText(
    'after',
    '\nOutput (-o json): { alerts: [ { messageId, publishedAt, kind, subject, dataset, key,\n' +
      '  status, error: { name, message } | null, executionArn, message } ] }; -o jsonl prints\n' +
      '  one a line. kind is null for a message that sluice did not publish.\n' +
      `${TARGET_HELP}\n\n` +
      'Exit codes: 0 listed (even none); 1 the stack failed to answer;\n' +
      '            2 usage errors: --stack (SNS keeps no messages: subscribe to the topic),\n' +
      '              a bad --since or --kind, a stopped stack.',
  );
  return command.action(
    opsAction(deps, async (context, _args, options) => {
      const since = options.since === undefined ? undefined : parseSince(String(options.since));
      const kinds =
        options.kind === undefined
          ? undefined
          : String(options.kind)
              .split(',')
              .map((kind) => kind.trim());
      const unknown = kinds?.filter((kind) => !KINDS.includes(kind as NoticeKind)) ?? [];
      if (unknown.length > 0) {
        throw new InvalidOption(`--kind ${unknown.join(',')}: give any of ${KINDS.join(', ')}`);
      }
      const target = await context.target();
      if (!target.notices) {
        throw new InvalidOption(
          `${target.description}: SNS keeps no messages to list; subscribe to the stack's AlarmTopicArn topic (README: Alarms)`,
        );
      }
      const rows = target
        .notices()
        .filter(
          (message) => since === undefined || Date.parse(message.publishedAt) >= since.getTime(),
        )
        .map(rowOf)
        .filter((row) => kinds === undefined || (row.kind !== null && kinds.includes(row.kind)));
      if (context.format === 'jsonl') {
        writeResult(context.stdout, 'jsonl', rows, () => '');
      } else {
        writeResult(context.stdout, context.format, { alerts: rows }, (view) => table(view.alerts));
      }
      return 0;
    }),
  );
}
