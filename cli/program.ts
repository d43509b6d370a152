import { Command, CommanderError } from 'commander';
import { inferCommand } from './commands/infer.ts';
import { resizeCommand } from './commands/resize.ts';
import { runCommand } from './commands/run.ts';
import { validateCommand } from './commands/validate.ts';

/** Exit code for usage and IO errors, shared by every command so scripts can rely on it. */
export const EXIT_USAGE = 2;
/** Exit code when a command broke for a reason other than its usage. */
export const EXIT_FAILURE = 1;

export function buildProgram(): Command {
  return new Command('sluice')
    .description(
      'Serverless file-ETL pipeline: image variants and CSV validation on Step Functions.\n' +
        'Runs fully offline against in-process emulators, or deploys to AWS with CDK.',
    )
    .version('0.1.0')
    .showHelpAfterError()
    .addCommand(runCommand())
    .addCommand(validateCommand())
    .addCommand(inferCommand())
    .addCommand(resizeCommand());
}

/** Runs the CLI and resolves to the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
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
