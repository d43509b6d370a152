import { type ChildProcess, spawn } from 'node:child_process';

/** A `sluice up` of the benches' own, on a free port, once it printed `ready`. */
export async function sluiceUp(
  dataDir: string,
  ...args: string[]
): Promise<{ readonly child: ChildProcess; readonly stdout: string }> {
  const child = spawn(
    process.execPath,
    ['cli/sluice.js', 'up', '--data-dir', dataDir, '--port', '0', ...args],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let stdout = '';
  await new Promise<void>((ready, fail) => {
    child.stdout?.on('data', (chunk) => {
      stdout += chunk;
      if (/^ready$/m.test(stdout)) ready();
    });
    child.on('exit', (code) => fail(new Error(`sluice up exited ${code}`)));
  });
  return { child, stdout };
}
