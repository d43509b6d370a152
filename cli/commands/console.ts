import { Command } from 'commander';
import { DEFAULT_DATA_DIR } from '#local/service/endpoint-file.ts';
import { type OpsDeps, opsAction, TARGET_HELP } from '../ops/command.ts';
import { InvalidOption } from '../ops/errors.ts';
import { parsePort } from './up.ts';

/** Resolves on SIGTERM or when `signal` aborts (Ctrl-C, through opsAction), whichever is first. */
function stopped(signal: AbortSignal, onSigterm: boolean): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      signal.removeEventListener('abort', done);
      if (onSigterm) process.off('SIGTERM', done);
      resolve();
    };
    if (signal.aborted) return done();
    signal.addEventListener('abort', done, { once: true });
    if (onSigterm) process.once('SIGTERM', done);
  });
}

/** `sluice console`: the console page of `sluice up`, for any stack the ops commands reach. */
export function consoleCommand(deps: OpsDeps = {}): Command {
  const command = new Command('console')
    .description(
      'Serve the console page on 127.0.0.1 for a deployed stack (--stack) or any running ' +
        '`sluice up` (--endpoint, --data-dir), until Ctrl-C or SIGTERM: the same live, file-first ' +
        'page that `sluice up` serves, read through the public AWS APIs with your credentials.',
    )
    .option('--port <port>', 'port on 127.0.0.1 (default: a free one)', parsePort)
    .option(
      '--data-dir <dir>',
      'the data dir of a running `sluice up` (its endpoint.json says where it listens)',
      DEFAULT_DATA_DIR,
    )
    .option('--endpoint <url>', 'a running `sluice up` by its URL, e.g. http://127.0.0.1:4599')
    .option('--stack <name>', 'a deployed stack by its CloudFormation name (AWS credentials)')
    .option('--region <region>', 'AWS region of --stack (default: from the AWS config)')
    .option('--profile <profile>', 'AWS profile of --stack (default: from the AWS config)')
    .addHelpText(
      'after',
      '\nOutput: `console: <url>` on stdout once the page is served; open it in a browser. The page\n' +
        'lists every file version with its status, a file page shows its attempts, states and\n' +
        'outputs (and its log lines, on a local stack), and /triage groups the failures, with\n' +
        'replay and redrive after a dry-run plan.\n' +
        '\nLive updates: every 2 s it lists the ProcessFile executions that are running or closed\n' +
        'since the last look (Step Functions ListExecutions, newest first) and pushes the files\n' +
        'that changed to the open pages. The upload path shows counts only, from the upload queue\n' +
        "and its dead-letter queue's attributes (GetQueueAttributes): reading the events would\n" +
        'receive them. A failed look (a throttle, expired credentials) is logged once per kind on\n' +
        'stderr and tried again at the next one.\n' +
        `${TARGET_HELP}\n\n` +
        'Exit codes: 0 stopped on Ctrl-C or SIGTERM;\n' +
        '            1 the console broke;\n' +
        '            2 usage errors: an unknown stack, no AWS credentials, an unreachable\n' +
        '              endpoint, a stopped stack, the port in use.',
    );
  return command.action(
    opsAction(
      deps,
      async (context, _args, options) => {
        const target = await context.target();
        // The page's bundler and the SDK's Step Functions and SQS models load only from here.
        const [{ startConsole }, { PollingFeed, POLL_INTERVAL_MS }] = await Promise.all([
          import('../../console/server/console-server.ts'),
          import('../../console/server/polling-feed.ts'),
        ]);
        const feed = new PollingFeed(target, {
          log: (line) => context.stderr.write(`${line}\n`),
        });
        let server: Awaited<ReturnType<typeof startConsole>>;
        try {
          server = await startConsole({
            port: (options.port as number | undefined) ?? 0,
            target,
            feed,
          });
        } catch (error) {
          if ((error as Error).name === 'ConsolePortInUse') {
            throw new InvalidOption(
              `${(error as Error).message}; pick another with --port (0 picks a free one)`,
            );
          }
          throw error;
        }
        context.stdout.write(`console: ${server.url}\n`);
        context.stderr.write(
          `serving ${target.description}, looking for changes every ${POLL_INTERVAL_MS / 1000} s; Ctrl-C to stop\n`,
        );
        await stopped(context.signal, !deps.signal);
        await server.close();
        return 0;
      },
      { interruptible: true },
    ),
  );
}
