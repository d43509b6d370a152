import { describe, expect, it } from 'vitest';
import { EmptyCsv, InvalidCsvEncoding } from '#commons/csv/index.ts';
import { bytes, validate } from './helpers.ts';

describe('UTF-8 decoding', () => {
  it('keeps 2-, 3- and 4-byte characters whole at every chunk boundary', async () => {
    // Prepare
    const csv = '\uFEFFname,note\né,€ 😀\n"😀, é",ok\n';
    const source = Buffer.from(csv, 'utf8');

    // Act & Assess
    for (const size of [1, 2, 3, 4, 5, 7]) {
      const { report, valid } = await validate(bytes(source, size));
      expect({ size, valid }).toEqual({ size, valid: csv.slice(1) });
      expect(report.stats.bytes).toBe(source.length);
    }
  });

  it('points at the first bad byte even when it follows a chunk boundary', async () => {
    // Prepare: byte 8 is a lone continuation byte, byte 8 of the second a truncated 3-byte lead
    const badContinuation = Buffer.concat([Buffer.from('a,b\n1,2\n'), Buffer.from([0x80, 0x0a])]);
    const truncated = Buffer.concat([Buffer.from('a,b\n1,2\n'), Buffer.from([0xe2, 0x82, 0x0a])]);

    // Act & Assess
    for (const size of [1, 3, 64]) {
      await expect(validate(bytes(badContinuation, size))).rejects.toThrow('near offset 8');
      await expect(validate(bytes(truncated, size))).rejects.toThrow('near offset 8');
    }
  });

  it('rejects a character cut off by the end of the file, overlongs and surrogates', async () => {
    // Prepare
    const cases = [
      Buffer.concat([Buffer.from('a\n1\n'), Buffer.from([0xf0, 0x9f, 0x98])]),
      Buffer.concat([Buffer.from('a\n'), Buffer.from([0xc0, 0xaf]), Buffer.from('\n')]),
      Buffer.concat([Buffer.from('a\n'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('\n')]),
    ];

    // Act & Assess
    for (const csv of cases) {
      await expect(validate(bytes(csv, 1))).rejects.toThrow(InvalidCsvEncoding);
      await expect(validate(csv)).rejects.toThrow(InvalidCsvEncoding);
    }
  });

  it('carries a multi-byte record that spans several 64 KB slices, and its bad byte offset', async () => {
    // Prepare: a 300 KB quoted cell of 2-byte characters, then rows with 3-byte ones
    const long = `"${'é,\n'.repeat(100_000)}"`;
    const csv = `id,note\n1,${long}\n2,€uro\n3,ok\n`;
    const source = Buffer.from(csv, 'utf8');
    const bad = Buffer.concat([source, Buffer.from([0xff, 0x0a])]);

    // Act
    const { report, valid } = await validate(bytes(source, 100_000));

    // Assess
    expect(valid).toBe(csv);
    expect(report.stats).toMatchObject({ rows: 3, invalidRows: 0, bytes: source.length });
    await expect(validate(bytes(bad, 100_000))).rejects.toThrow(`near offset ${source.length})`);
  });

  it('treats a lone BOM as an empty file and a cut BOM as invalid UTF-8', async () => {
    // Act & Assess
    await expect(validate(Buffer.from([0xef, 0xbb, 0xbf]))).rejects.toThrow(EmptyCsv);
    await expect(validate(bytes(Buffer.from([0xef, 0xbb]), 1))).rejects.toThrow(InvalidCsvEncoding);
  });
});
