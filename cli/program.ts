import { Command, CommanderError } from 'commander';
import { EXIT_FAILURE, EXIT_USAGE } from './exit-codes.ts';

export { EXIT_FAILURE, EXIT_USAGE };

/**
 * Each command's module, loaded only when needed: `sluice resize` should not pay for loading the
 * CSV engine or the local emulators before its first image.
 */
const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  run: async () => (await import('./commands/run.ts')).runCommand(),
  up: async () => (await import('./commands/up.ts')).upCommand(),
  validate: async () => (await import('./commands/validate.ts')).validateCommand(),
  infer: async () => (await import('./commands/infer.ts')).inferCommand(),
  resize: async () => (await import('./commands/resize.ts')).resizeCommand(),
  executions: async () => (await import('./commands/executions.ts')).executionsCommand(),
  show: async () => (await import('./commands/show.ts')).showCommand(),
  watch: async () => (await import('./commands/watch.ts')).watchCommand(),
  upload: async () => (await import('./commands/upload.ts')).uploadCommand(),
  redrive: async () => (await import('./commands/redrive.ts')).redriveCommand(),
  replay: async () => (await import('./commands/replay.ts')).replayCommand(),
};

/** The CLI with the command `argv` names, or with every command (for help and errors). */
export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const program = new Command('sluice')
    .description(
      'Serverless file-ETL pipeline: image variants and CSV validation on Step Functions.\n' +
        'Runs fully offline against in-process emulators, or deploys to AWS with CDK.',
    )
    .version('0.1.0')
    .showHelpAfterError();
  const named = argv[2] ?? '';
  const wanted = named in COMMANDS ? [named] : Object.keys(COMMANDS);
  for (const name of wanted) program.addCommand(await (COMMANDS[name] as () => Promise<Command>)());
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
