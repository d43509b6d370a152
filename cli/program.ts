import { Command, CommanderError } from 'commander';
import { EXIT_FAILURE, EXIT_USAGE } from './exit-codes.ts';

export { EXIT_FAILURE, EXIT_USAGE };

interface CommandEntry {
  /** The line `sluice --help` lists it with; the module's own help says the rest. */
  readonly summary: string;
  readonly load: () => Promise<Command>;
}

/**
 * Each command's module, loaded only when that command runs: `sluice resize` should not pay for
 * the CSV engine or the emulators, and `sluice --help` loads none of them.
 */
const COMMANDS: Readonly<Record<string, CommandEntry>> = {
  run: {
    summary: 'run the whole pipeline offline over a directory and print each outcome',
    load: async () => (await import('./commands/run.ts')).runCommand(),
  },
  up: {
    summary: 'run the local stack as a service on one endpoint, until stopped',
    load: async () => (await import('./commands/up.ts')).upCommand(),
  },
  validate: {
    summary: "validate a CSV file against a Table Schema with the pipeline's engine",
    load: async () => (await import('./commands/validate.ts')).validateCommand(),
  },
  infer: {
    summary: 'print a Table Schema inferred from a CSV sample',
    load: async () => (await import('./commands/infer.ts')).inferCommand(),
  },
  resize: {
    summary: "make an image's variants with the pipeline's engine",
    load: async () => (await import('./commands/resize.ts')).resizeCommand(),
  },
  upload: {
    summary: 'upload files to incoming/ of a running stack',
    load: async () => (await import('./commands/upload.ts')).uploadCommand(),
  },
  executions: {
    summary: 'list file versions and how their latest attempt ended',
    load: async () => (await import('./commands/executions.ts')).executionsCommand(),
  },
  show: {
    summary: "show a file's attempts, states, outputs and log lines",
    load: async () => (await import('./commands/show.ts')).showCommand(),
  },
  watch: {
    summary: 'follow an execution, or every execution, live',
    load: async () => (await import('./commands/watch.ts')).watchCommand(),
  },
  console: {
    summary: 'serve the console page for a deployed stack or any running `sluice up`',
    load: async () => (await import('./commands/console.ts')).consoleCommand(),
  },
  redrive: {
    summary: 'redrive failed executions from the state that failed, or the upload DLQ',
    load: async () => (await import('./commands/redrive.ts')).redriveCommand(),
  },
  replay: {
    summary: 'process a file version again as a new attempt',
    load: async () => (await import('./commands/replay.ts')).replayCommand(),
  },
  schedules: {
    summary: 'list the batch schedules, when each runs next and how its last batch ended',
    load: async () => (await import('./commands/schedules.ts')).schedulesCommand(),
  },
  batch: {
    summary: 'process every file under a prefix now, as a scheduled batch does',
    load: async () => (await import('./commands/batch.ts')).batchCommand(),
  },
  alerts: {
    summary: 'list the notices of failed and quarantined files and of batches over tolerance',
    load: async () => (await import('./commands/alerts.ts')).alertsCommand(),
  },
  cost: {
    summary: 'estimate the monthly AWS cost of N files a month, per service (no stack needed)',
    load: async () => (await import('./commands/cost.ts')).costCommand(),
  },
};

/** The CLI with the command `argv` names loaded, or every command as its summary line. */
export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const program = new Command('sluice')
    .description(
      'Serverless file-ETL pipeline: image variants and CSV validation on Step Functions.\n' +
        'Runs fully offline against in-process emulators, or deploys to AWS with CDK.\n' +
        '`sluice <command> --help` explains a command, its output and its exit codes.',
    )
    .version('0.1.0')
    .showHelpAfterError();
  // `sluice help <command>` is `sluice <command> --help`.
  const named = argv[2] === 'help' ? (argv[3] ?? '') : (argv[2] ?? '');
  for (const [name, entry] of Object.entries(COMMANDS)) {
    program.addCommand(
      name === named ? await entry.load() : new Command(name).description(entry.summary),
    );
  }
  return program;
}

/** Runs the CLI and resolves to the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = await buildProgram(argv);
  program.exitOverride();
  for (const command of program.commands) command.exitOverride();
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end through exitOverride too, with exit code 0.
      return error.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    process.stderr.write(`sluice: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT_FAILURE;
  }
}
