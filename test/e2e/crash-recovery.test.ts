import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalStack } from '#local/stack/stack.ts';
import { writeSmallFiles } from '../../bench/small-files.ts';
import type { FileOutcome } from '../../cli/ops/run-files.ts';

const FINAL = new Set(['SUCCEEDED', 'QUARANTINED', 'FAILED']);
const work = mkdtempSync(join(tmpdir(), 'sluice-crash-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const sluiceRun = (dir: string, dataDir: string): ChildProcess =>
  spawn(process.execPath, ['cli/sluice.js', 'run', dir, '--data-dir', dataDir, '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });

const count = (dir: string, suffix: string) =>
  existsSync(dir) ? readdirSync(dir).filter((file) => file.endsWith(suffix)).length : 0;

/** Messages the queue's journal holds that no delivery has deleted yet. */
function pending(journal: string): number {
  if (!existsSync(journal)) return 0;
  const lines = readFileSync(journal, 'utf8').split('\n').filter(Boolean);
  const ops = lines.flatMap((line) => {
    try {
      return [JSON.parse(line).op as string];
    } catch {
      return [];
    }
  });
  return ops.filter((op) => op === 'send').length - ops.filter((op) => op === 'delete').length;
}

describe('sluice run after a kill -9', () => {
  it('finishes every file that was cut short, once, and delivers the queued events', async () => {
    // Prepare: kill the first run while executions run and upload events still wait in the queue.
    const files = join(work, 'files');
    const paths = await writeSmallFiles(files, 60);
    const dataDir = join(work, 'data');
    const executions = join(dataDir, 'executions', 'sluice-ProcessFile');
    const journal = join(dataDir, 'queue', 'journal.jsonl');
    const first = sluiceRun(files, dataDir);
    let seen = { executions: 0, queued: 0 };
    while (seen.executions < 3 || seen.queued === 0) {
      if (first.exitCode !== null) throw new Error('the first run ended before it could be killed');
      await new Promise((wake) => setTimeout(wake, 20));
      seen = { executions: count(executions, '.journal'), queued: pending(journal) };
    }
    first.kill('SIGKILL');
    await new Promise((done) => first.once('exit', done));

    // Act
    const second = sluiceRun(files, dataDir);
    let stdout = '';
    second.stdout?.on('data', (chunk) => {
      stdout += chunk;
    });
    const code = await new Promise((done) => second.once('exit', done));

    // Assess: every file has exactly one final ledger item, and this run reports it.
    expect(code).toBe(0);
    const outcomes = JSON.parse(stdout) as FileOutcome[];
    expect(outcomes).toHaveLength(paths.length);
    expect(outcomes.filter((o) => !['SUCCEEDED', 'SKIPPED_DUPLICATE'].includes(o.status))).toEqual(
      [],
    );
    expect(outcomes.filter((o) => o.status === 'SUCCEEDED').length).toBeGreaterThan(0);
    const stack = await LocalStack.start({ dataDir });
    try {
      for (const path of paths) {
        const items = await stack.ledger.history(stack.names.bucketName, `incoming/${path}`);
        expect({ path, finals: items.filter((item) => FINAL.has(item.status)).length }).toEqual({
          path,
          finals: 1,
        });
      }
      expect(stack.queue.depth).toBe(0);
      expect(stack.stepFunctions.running).toBe(0);
    } finally {
      await stack.close();
    }
  }, 120_000);
});
