import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const CHILD = join(import.meta.dirname, 'bounded-memory.child.ts');
const ROWS = 1_900_000;

describe('streaming', () => {
  it('validates a generated 200+ MB file with a primary key inside a 64 MB V8 heap', async () => {
    // Prepare: the heap cap makes holding the file (or a Set of its keys) crash the child.
    const args = ['--max-old-space-size=64', '--import', 'tsx', CHILD, String(ROWS)];

    // Act
    const { stdout } = await promisify(execFile)(process.execPath, args, { maxBuffer: 1 << 20 });

    // Assess
    const result = JSON.parse(stdout) as {
      rows: number;
      invalidRows: number;
      bytes: number;
      written: number;
      maxRssBytes: number;
    };
    expect(result.rows).toBe(ROWS);
    expect(result.invalidRows).toBe(ROWS / 1000);
    expect(result.bytes).toBeGreaterThan(200 * 1024 * 1024);
    // Every input byte goes to one output, plus the second header and the invalid rows' error columns.
    expect(result.written).toBeGreaterThan(result.bytes);
    expect(result.maxRssBytes).toBeLessThan(200 * 1024 * 1024);
  }, 120_000);
});
