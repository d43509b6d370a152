import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UniqueKeyIndex } from '#commons/csv/unique-index.ts';

describe('UniqueKeyIndex', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-unique-test-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('finds repeats across spilled runs exactly as a Set would, then deletes the runs', () => {
    // Prepare
    const index = new UniqueKeyIndex({ tmpDir: dir, memoryKeys: 64 });
    const keys = Array.from({ length: 5000 }, (_, i) => `key-${(i * 7919) % 3000}`);
    const seen = new Set<string>();
    const expected = keys.map((key) => !seen.has(key) && Boolean(seen.add(key)));

    // Act
    const actual = keys.map((key) => index.add(key));
    const spilled = readdirSync(dir, { recursive: true }).length;
    index.close();

    // Assess
    expect(actual).toEqual(expected);
    expect(actual.filter((isNew) => !isNew)).toHaveLength(2000);
    // 3,000 distinct keys through a 64-key table: dozens of runs, plus their directory.
    expect(spilled).toBeGreaterThan(40);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('takes a key as a range of a longer text, as a Set takes its slice', () => {
    // Prepare: increasing ids (kept as integer ranges), repeats, non-canonical and text keys.
    const index = new UniqueKeyIndex({ tmpDir: dir, memoryKeys: 8 });
    const keys = ['1', '2', '3', '2', '07', '7', '7', '10', '9', 'x', 'x', '', '0', '00', '0'];
    const seen = new Set<string>();
    const expected = keys.map((key) => !seen.has(key) && Boolean(seen.add(key)));

    // Act
    const actual = keys.map((key) => {
      const text = `a,${key},b`;
      return index.add(text, 2, 2 + key.length);
    });
    index.close();

    // Assess
    expect(actual).toEqual(expected);
  });

  it('tells apart keys that differ only by order or by a separator', () => {
    // Prepare
    const index = new UniqueKeyIndex({ tmpDir: dir, memoryKeys: 8 });

    // Act
    const results = ['ab', 'ba', 'a\u001fb', 'b\u001fa', '', 'ab'].map((key) => index.add(key));
    index.close();

    // Assess
    expect(results).toEqual([true, true, true, true, true, false]);
  });

  it('keeps increasing integer ids as ranges and still finds every repeat, in or out of order', () => {
    // Prepare
    const index = new UniqueKeyIndex({ tmpDir: dir, memoryKeys: 8 });
    const ids = [
      '1',
      '2',
      '3',
      '5',
      '6',
      '2',
      '4',
      '4',
      '07',
      '7',
      '7',
      '100',
      '99',
      '6',
      '0',
      '0',
      '99',
    ];
    const seen = new Set<string>();
    const expected = ids.map((id) => !seen.has(id) && Boolean(seen.add(id)));

    // Act
    const actual = ids.map((id) => index.add(id));
    index.close();

    // Assess
    expect(actual).toEqual(expected);
    expect(actual.filter((isNew) => !isNew)).toHaveLength(6);
  });
});
