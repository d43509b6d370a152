import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '../..');
const CLI = join(ROOT, 'cli/sluice.js');

/** A `sluice up` in its own process, as a user starts it, with what it printed before `ready`. */
export interface RunningUp {
  readonly child: ChildProcess;
  readonly dataDir: string;
  /** One `name: value` line of what it printed, such as `endpoint` or `api token`. */
  line(name: string): string;
  /** SIGTERM, then the data dir removed. */
  stop(): Promise<void>;
}

/**
 * Starts `sluice up --port 0` on a fresh data dir with no AWS settings inherited, and resolves
 * once it printed `ready`; rejects if it exits first.
 */
export async function startSluiceUp(...args: string[]): Promise<RunningUp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sluice-up-'));
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_')),
  );
  const child = spawn(
    process.execPath,
    [CLI, 'up', '--port', '0', '--data-dir', dataDir, ...args],
    { cwd: ROOT, env },
  );
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk) => {
      stdout += chunk;
      if (/^ready$/m.test(stdout)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`sluice up exited ${code}:\n${stderr}`)));
  });
  return {
    child,
    dataDir,
    line(name) {
      const value = new RegExp(`^${name}: (.+)$`, 'm').exec(stdout)?.[1];
      if (value === undefined) throw new Error(`sluice up printed no '${name}:' line`);
      return value;
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
