import type { Command } from 'commander';
import { DEFAULT_DATA_DIR } from '#local/service/endpoint-file.ts';
import { EXIT_USAGE } from '../exit-codes.ts';
import { firstLine, OpsUsageError, usageErrorOf } from './errors.ts';
import {
  defaultFormat,
  type OutputFormat,
  outputOption,
  type TextSink,
  writeResult,
} from './output.ts';
import type { OpsTarget, TargetOptions } from './target.ts';

/** What a command reads and writes besides its target; tests pass their own. */
export interface OpsDeps {
  /** Resolves `--data-dir`, `--endpoint` or `--stack`; tests return their in-process stack's. */
  readonly target?: (options: TargetOptions) => OpsTarget | Promise<OpsTarget>;
  readonly stdout?: TextSink;
  readonly stderr?: TextSink;
  /** Receives the exit code; by default it becomes process.exitCode. */
  readonly exit?: (code: number) => void;
  /** Ends a long-running command as Ctrl-C would; by default SIGINT does. */
  readonly signal?: AbortSignal;
}

/** What a command's body gets. */
export interface OpsContext {
  /** The stack, resolved on first use (so `upload --dry-run` needs none) and closed at the end. */
  target(): Promise<OpsTarget>;
  readonly format: OutputFormat;
  readonly stdout: TextSink;
  readonly stderr: TextSink;
  /** Aborted by Ctrl-C, for the commands that declare themselves interruptible. */
  readonly signal: AbortSignal;
}

/** Target and output options shared by every ops command. */
export interface OpsOptions extends TargetOptions {
  readonly output?: OutputFormat;
}

/** Adds `--data-dir`, `--endpoint`, `--stack`, `--region`, `--profile` and `-o`. */
export function withOpsOptions(command: Command): Command {
  return command
    .option(
      '--data-dir <dir>',
      'the data dir of a running `sluice up` (its endpoint.json says where it listens)',
      DEFAULT_DATA_DIR,
    )
    .option('--endpoint <url>', 'a running `sluice up` by its URL, e.g. http://127.0.0.1:4566')
    .option('--stack <name>', 'a deployed stack by its CloudFormation name (AWS credentials)')
    .option('--region <region>', 'AWS region of --stack (default: from the AWS config)')
    .option('--profile <profile>', 'AWS profile of --stack (default: from the AWS config)')
    .addOption(outputOption());
}

/** The help text that every ops command ends with: which stack, and the shared exit code 2. */
export const TARGET_HELP =
  '\nWhich stack: --stack NAME (deployed), else --endpoint URL (a running `sluice up`), else the\n' +
  '`sluice up` whose endpoint.json is in --data-dir (default .sluice).';

/**
 * Wraps a command body: resolves the output format and (lazily) the target, closes the target,
 * and ends usage errors (a stopped stack, an unknown key, a bad option) with one line on stderr
 * and exit code 2. Other errors go on to the CLI's handler: one line and exit code 1.
 */
export function opsAction(
  deps: OpsDeps,
  body: (
    context: OpsContext,
    args: (string | undefined)[],
    options: Record<string, unknown>,
  ) => Promise<number>,
  settings: { readonly interruptible?: boolean } = {},
): (...commanderArgs: unknown[]) => Promise<void> {
  return async (...commanderArgs) => {
    const command = commanderArgs.at(-1) as Command;
    const options = command.opts() as OpsOptions & Record<string, unknown>;
    const args = commanderArgs.slice(0, -2) as (string | undefined)[];
    const stdout = deps.stdout ?? process.stdout;
    const stderr = deps.stderr ?? process.stderr;
    const exit = deps.exit ?? ((code: number) => (process.exitCode = code));
    const controller = new AbortController();
    const onSignal = () => controller.abort();
    deps.signal?.addEventListener('abort', onSignal, { once: true });
    if (deps.signal?.aborted) controller.abort();
    const onSigint = settings.interruptible && !deps.signal ? onSignal : undefined;
    if (onSigint) process.once('SIGINT', onSigint);

    let target: Promise<OpsTarget> | undefined;
    let where = 'the stack';
    const context: OpsContext = {
      target() {
        // The AWS SDK loads only when a command reaches its stack, so `--help` starts fast.
        const resolve =
          deps.target ??
          (async (o: TargetOptions) => (await import('./target.ts')).resolveTarget(o));
        target ??= Promise.resolve(resolve(options)).then((resolved) => {
          where = resolved.description;
          return resolved;
        });
        return target;
      },
      format: options.output ?? defaultFormat(stdout),
      stdout,
      stderr,
      signal: controller.signal,
    };
    try {
      exit(await body(context, args, options));
    } catch (error) {
      const usage = usageErrorOf(error, where);
      if (!(usage instanceof OpsUsageError)) throw usage;
      stderr.write(`sluice: ${firstLine(usage.message)}\n`);
      exit(EXIT_USAGE);
    } finally {
      if (onSigint) process.off('SIGINT', onSigint);
      deps.signal?.removeEventListener('abort', onSignal);
      if (target) await target.then((t) => t.close()).catch(() => {});
    }
  };
}

/** Sleeps `ms`, or less if `signal` aborts first. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

/** Items a state-changing command acted on: `result` is null for those it skipped. */
interface Outcome {
  readonly result: { readonly status: string } | null;
}

/**
 * How `redrive` and `replay` end: with --dry-run, the plan and exit 0; else `run`, with a
 * progress line on a terminal, then its results, and exit 0 only if all it acted on SUCCEEDED.
 */
export async function planThenRun<P, R extends Outcome>(
  context: OpsContext,
  plan: readonly P[],
  settings: {
    readonly dryRun: boolean;
    readonly verb: string;
    readonly view: (item: P) => unknown;
    readonly run: (onProgress: (done: number, total: number) => void) => Promise<R[]>;
    readonly table: (items: readonly unknown[]) => string;
  },
): Promise<number> {
  const { stdout, stderr, format } = context;
  if (settings.dryRun) {
    writeResult(stdout, format, plan.map(settings.view), settings.table);
    return 0;
  }
  const results = await settings.run((done, total) => {
    if (stderr.isTTY) stderr.write(`\r\x1b[2K${settings.verb} ${done}/${total}`);
  });
  if (stderr.isTTY) stderr.write('\r\x1b[2K');
  writeResult(stdout, format, results, settings.table);
  return results.every((item) => !item.result || item.result.status === 'SUCCEEDED') ? 0 : 1;
}
