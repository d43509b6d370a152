import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_DATA_DIR } from '#local/service/endpoint-file.ts';
import { EXIT_USAGE } from '../exit-codes.ts';
import { shortTime } from '../ops/output.ts';
import { FAULTS_HELP } from './faults-help.ts';
import { schedulesFileOf } from './schedules.ts';

/** Same as DEFAULT_PORT in local/service/service.ts, which loads only when `up` runs. */
const DEFAULT_PORT = 4599;
/** A stop that takes longer than this is stuck: exit rather than hang the terminal. */
const STOP_DEADLINE_MS = 9_000;

/** A `--port`-like option's value: 0 to 65535, where 0 picks a free port. */
export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65_535) {
    throw new InvalidArgumentError('a port is a whole number from 0 to 65535 (0 picks a free one)');
  }
  return port;
}

/** Errors that are the user's to fix (another sluice, a port in use): one line, exit 2. */
const USAGE_ERRORS = new Set([
  'DataDirInUse',
  'PortInUse',
  'ConsolePortInUse',
  'ApiPortInUse',
  'InvalidFaultRules',
  'InvalidSchedules',
]);

interface UpOptions {
  readonly dataDir: string;
  readonly port: number;
  readonly faults?: string;
  readonly schedules?: string;
  /** False for `--no-console`. */
  readonly console?: boolean;
  readonly consolePort?: number;
  /** False for `--no-api`. */
  readonly api?: boolean;
  readonly apiPort?: number;
  readonly apiToken?: string;
}

export function upCommand(): Command {
  return new Command('up')
    .description(
      'Run the local stack as a service on one endpoint, until Ctrl-C or SIGTERM. Every AWS API ' +
        'it emulates (S3, DynamoDB, Kinesis, Step Functions, SQS, SNS) answers on http://127.0.0.1:<port>, ' +
        'routed by the SigV4 credential scope, with any credentials: the AWS CLI, boto3 and the ' +
        "SDKs work unchanged with only AWS_ENDPOINT_URL. Uploads under incoming/ start the pipeline as 'run' does.",
    )
    .option(
      '--data-dir <dir>',
      'where the local bucket, ledger, executions and logs persist (locked while up runs)',
      DEFAULT_DATA_DIR,
    )
    .option('--port <port>', 'port on 127.0.0.1; 0 picks a free one', parsePort, DEFAULT_PORT)
    .option(
      '--faults <file>',
      'inject faults from this rules file (see below); GET/POST /_sluice/faults reads and replaces them',
    )
    .option(
      '--console-port <port>',
      "the console's port on 127.0.0.1 (default: --port + 1, or a free one with --port 0)",
      parsePort,
    )
    .option('--no-console', 'serve no console page')
    .option(
      '--api-port <port>',
      "the HTTP API's port on 127.0.0.1 (default: --port + 2, or a free one with --port 0)",
      parsePort,
    )
    .option(
      '--api-token <token>',
      'the bearer token the HTTP API takes (default: a random one, printed and written to endpoint.json)',
    )
    .option('--no-api', 'serve no HTTP API')
    .option(
      '--schedules <file>',
      'fire the batch schedules declared in this file (default: $SLUICE_SCHEDULES, else schedules.json at the project root)',
    )
    .addHelpText(
      'after',
      '\nOnce up, it prints the endpoint, the bucket, table, stream and state machine ARN, then a line\n' +
        'to paste into a shell, then `ready`:\n\n' +
        '  export AWS_ENDPOINT_URL=http://127.0.0.1:4599 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \\\n' +
        '         AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1\n\n' +
        'AWS_ENDPOINT_URL sends every client (aws, boto3, SDK v3) to the one endpoint. The credentials can\n' +
        'be anything: nothing is checked. The region is the one the resource ARNs are in: SDK v3 reads\n' +
        'AWS_REGION, the AWS CLI v1 and boto3 read AWS_DEFAULT_REGION.\n\n' +
        'It writes <data-dir>/endpoint.json (endpoint, bucket, table, stream, stateMachines, queues,\n' +
        'pid, region, logDir, console, api, apiToken) and removes it on stop; GET /_sluice/endpoint answers the same, and /_sluice/health\n' +
        "reports each service, like LocalStack's /_localstack/health.\n" +
        '\nConsole: a web page on 127.0.0.1 (printed as `console: <url>`, --port + 1 by default) lists\n' +
        "every file version live, with filters kept in the URL; a file's page shows its attempts, its\n" +
        'states as a graph, its outputs inline and its logs; /triage groups the failures, and replays\n' +
        'or redrives them after showing the dry-run plan. It loads nothing from off the machine.\n' +
        '\nHTTP API: the API that API Gateway serves on AWS, on 127.0.0.1 (printed as `api: <url>`,\n' +
        '--port + 2 by default), with the same function behind it. Every route takes\n' +
        '`Authorization: Bearer <token>` (printed as `api token: ...`):\n\n' +
        '  POST /uploads                      {dataset, filename, bytes, contentType?} -> a presigned S3 POST\n' +
        "  GET  /files/<key>                  a file's status, outputs, error and attempts\n" +
        '  GET  /datasets/<d>/files           ?status=&since=&limit=&nextToken=, a page at a time\n' +
        '  GET  /openapi.json                 the OpenAPI 3.1 document\n\n' +
        '  curl -F <each field> -F file=@<path> <url> uploads with the fields POST /uploads returned.\n' +
        FAULTS_HELP +
        '\n' +
        'Schedules: each schedule of the declaration (see `sluice schedules --help`) starts the\n' +
        'ProcessBatch state machine at its slots, as EventBridge Scheduler does on AWS, and prints\n' +
        'one line on start:\n\n' +
        '  schedule orders-nightly: cron(0 2 * * ? *) Europe/London, next 2026-12-04T02:00:00Z\n\n' +
        'It fires at the slot, ignoring the flexible window. <data-dir>/schedules/state.json keeps\n' +
        "each schedule's last run: a schedule it has not seen starts from now (no backfill), and after\n" +
        'downtime it fires once, for the most recent slot missed. A fire that fails is logged to\n' +
        'stderr and kept there as lastError.\n\n' +
        'Exit codes: 0 stopped cleanly on Ctrl-C or SIGTERM;\n' +
        '            1 the stack broke, or did not stop in time;\n' +
        '            2 usage errors: a port is in use, another sluice holds the data dir, or the\n' +
        '              --faults or --schedules file is bad.',
    )
    .action(async (options: UpOptions) => {
      const dataDir = resolve(options.dataDir);
      const schedules = schedulesFileOf(options.schedules);
      if (schedules.named && !existsSync(schedules.path)) {
        process.stderr.write(`sluice: ${schedules.path}: no such schedules file\n`);
        process.exitCode = EXIT_USAGE;
        return;
      }
      // The emulators load only when `up` runs, so other commands start fast.
      const { startService } = await import('#local/service/service.ts');
      let service: Awaited<ReturnType<typeof startService>>;
      try {
        service = await startService({
          dataDir,
          port: options.port,
          faults: options.faults,
          schedules: schedules.path,
          consolePort: options.console === false ? null : options.consolePort,
          apiPort: options.api === false ? null : options.apiPort,
          apiToken: options.apiToken,
          onNotice: (message) =>
            process.stderr.write(`sluice: notice: ${message.subject ?? message.message}\n`),
        });
      } catch (error) {
        if (error instanceof Error && USAGE_ERRORS.has(error.name)) {
          const hint =
            error.name === 'PortInUse'
              ? '; pick another with --port (0 picks a free one)'
              : error.name === 'ConsolePortInUse'
                ? '; pick another with --console-port, or --no-console'
                : error.name === 'ApiPortInUse'
                  ? '; pick another with --api-port, or --no-api'
                  : '';
          process.stderr.write(`sluice: ${error.message}${hint}\n`);
          process.exitCode = EXIT_USAGE;
          return;
        }
        throw error;
      }

      const { info } = service;
      // Loaded by the service already.
      const { nextRun } = await import('#commons/schedules.ts');
      const lines = [
        `endpoint: ${info.endpoint}`,
        `data dir: ${info.dataDir}`,
        `bucket: ${info.bucket}`,
        `table: ${info.table}`,
        `stream: ${info.stream}`,
        ...Object.entries(info.stateMachines).map(([name, arn]) => `state machine ${name}: ${arn}`),
        `logs: ${info.logDir}`,
        `notice topic: ${info.noticeTopic} (sluice alerts lists what it got)`,
        ...(info.console ? [`console: ${info.console}`] : []),
        ...(info.api ? [`api: ${info.api}`, `api token: ${info.apiToken}`] : []),
        ...service.schedules.map(
          (schedule) =>
            `schedule ${schedule.name}: ${schedule.expression} ${schedule.timeZone}, next ${shortTime(nextRun(schedule, new Date()).toISOString())}`,
        ),
        `export AWS_ENDPOINT_URL=${info.endpoint} AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=${info.region} AWS_DEFAULT_REGION=${info.region}`,
        'ready',
      ];
      process.stdout.write(`${lines.join('\n')}\n`);

      const signal = await new Promise<NodeJS.Signals>((stop) => {
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      process.stderr.write(`sluice: ${signal}: stopping\n`);
      // A second signal, or a stop that hangs, ends the process without waiting.
      const force = () => process.exit(130);
      process.once('SIGINT', force);
      process.once('SIGTERM', force);
      const deadline = setTimeout(() => {
        process.stderr.write(
          `sluice: the stack did not stop within ${STOP_DEADLINE_MS / 1000} s\n`,
        );
        process.exit(1);
      }, STOP_DEADLINE_MS);
      deadline.unref();
      await service.close();
      clearTimeout(deadline);
      process.off('SIGINT', force);
      process.off('SIGTERM', force);
      process.stderr.write('sluice: stopped\n');
      process.exitCode = 0;
    });
}
