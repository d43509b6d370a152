import type { Command } from 'commander';
import type { OpsDeps } from '../../cli/ops/command.ts';
import type { OpsTarget } from '../../cli/ops/target.ts';

/** What one in-process command run printed and the exit code it set. */
export interface CommandRun {
  readonly code: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs an ops command in-process against `target`, as `sluice <args>` would with that stack,
 * capturing its output and exit code instead of touching the process's.
 */
export async function runOps(
  factory: (deps: OpsDeps) => Command,
  target: OpsTarget,
  args: readonly string[],
  extra: Partial<OpsDeps> = {},
): Promise<CommandRun> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  let code: number | undefined;
  const command = factory({
    target: () => target,
    stdout: { write: (text: string) => stdout.push(text), isTTY: false },
    stderr: { write: (text: string) => stderr.push(text), isTTY: false },
    exit: (exitCode) => {
      code = exitCode;
    },
    ...extra,
  });
  command.exitOverride();
  await command.parseAsync([...args], { from: 'user' });
  return { code, stdout: stdout.join(''), stderr: stderr.join('') };
}

/** The lines a command printed so far, for waiting on what a user would see. */
export function captured(): {
  sink: { write(text: string): boolean; isTTY: false };
  text(): string;
} {
  const chunks: string[] = [];
  return {
    sink: { write: (text: string) => chunks.push(text) > 0, isTTY: false },
    text: () => chunks.join(''),
  };
}

/** Resolves once `check` holds, looking again every 50 ms (the test's own timeout bounds it). */
export async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((wake) => setTimeout(wake, 50));
}
