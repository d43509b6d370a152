import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CsvError,
  CsvFieldTooLarge,
  CsvRowTooLarge,
  EmptyCsv,
  InvalidCsvEncoding,
} from '#commons/csv/index.ts';
import { bytes, errorsOf, FIXTURES, fixture, validate } from './helpers.ts';

describe('dialect and encoding', () => {
  it('drops a UTF-8 BOM and keeps CRLF line endings in valid.csv', async () => {
    // Act
    const { report, valid } = await validate(fixture('bom-crlf.csv'));

    // Assess
    expect(report.labels).toEqual(['id', 'name']);
    expect(report.dialect.lineTerminator).toBe('\r\n');
    expect(valid).toBe('id,name\r\n1,Ada\r\n2,Grace\r\n');
    expect(report.stats).toMatchObject({ rows: 2, fields: 2, bytes: 28 });
  });

  it('detects a semicolon delimiter and parses decimal commas with the schema', async () => {
    // Prepare
    const schema = {
      fields: [
        { name: 'id', type: 'integer' },
        { name: 'city' },
        { name: 'amount', type: 'number', decimalChar: ',' },
      ],
    };

    // Act
    const { report, valid } = await validate(fixture('semicolon.csv'), schema);

    // Assess
    expect(report.dialect.delimiter).toBe(';');
    expect(report.valid).toBe(true);
    expect(valid).toBe(await readFile(join(FIXTURES, 'semicolon.csv'), 'utf8'));
  });

  it('takes the delimiter from the schema dialect instead of detecting it', async () => {
    // Act
    const { report } = await validate('a|b\n1|2\n', {
      fields: [{ name: 'a' }, { name: 'b' }],
      dialect: { delimiter: '|' },
    });

    // Assess
    expect(report.dialect.delimiter).toBe('|');
    expect(report.valid).toBe(true);
  });

  it('keeps quoted newlines and escaped quotes inside one field, byte for byte', async () => {
    // Prepare
    const source = await readFile(join(FIXTURES, 'quoted-newlines.csv'), 'utf8');

    // Act
    const { report, valid } = await validate(fixture('quoted-newlines.csv'), {
      fields: [{ name: 'id', type: 'integer' }, { name: 'comment' }],
    });

    // Assess
    expect(report.stats.rows).toBe(3);
    expect(report.valid).toBe(true);
    expect(valid).toBe(source);
  });

  it('gives the same result when the input arrives one byte at a time', async () => {
    // Prepare
    const source = await readFile(join(FIXTURES, 'quoted-newlines.csv'));

    // Act
    const { report, valid } = await validate(bytes(source, 1));

    // Assess
    expect(report.stats.rows).toBe(3);
    expect(valid).toBe(source.toString('utf8'));
  });

  it('survives a BOM, CRLF and multi-byte characters split across chunk boundaries', async () => {
    // Prepare
    const crlf = await readFile(join(FIXTURES, 'bom-crlf.csv'));
    const accented = await readFile(join(FIXTURES, 'semicolon.csv'));

    // Act
    const first = await validate(bytes(crlf, 1));
    const second = await validate(bytes(accented, 1));

    // Assess
    expect(first.valid).toBe('id,name\r\n1,Ada\r\n2,Grace\r\n');
    expect(first.report.labels).toEqual(['id', 'name']);
    expect(second.valid).toBe(accented.toString('utf8'));
    expect(second.report.stats.bytes).toBe(accented.length);
  });

  it('detects old Mac CR line endings', async () => {
    // Act
    const { report, valid } = await validate('a,b\r1,2\r3,4\r');

    // Assess
    expect(report.dialect.lineTerminator).toBe('\r');
    expect(report.stats.rows).toBe(2);
    expect(valid).toBe('a,b\r1,2\r3,4\r');
  });

  it('reports ragged rows as missing and extra cells, not a crash', async () => {
    // Act
    const { report, valid, invalid } = await validate(fixture('ragged.csv'));

    // Assess
    expect(errorsOf(report)).toEqual([
      ['missing-cell', 3, 'email'],
      ['extra-cell', 4, null],
    ]);
    expect(valid).toBe('id,name,email\n1,Ada,ada@example.com\n4,Ken,ken@example.com\n');
    expect(invalid.split('\n').slice(1, 3)).toEqual([
      '3,"email: the row has 2 cells, the header 3",2,Grace',
      '4,"extra-cell: the row has 4 cells, the header 3",3,Linus,linus@example.com,extra',
    ]);
  });

  it('reports a blank line as a blank row', async () => {
    // Act
    const { report, valid } = await validate(fixture('blank-line.csv'));

    // Assess
    expect(errorsOf(report)).toEqual([['blank-row', 3, null]]);
    expect(valid).toBe('id,name\n1,Ada\n2,Grace\n');
  });

  it('rejects invalid UTF-8 with a named error pointing at the first bad byte', async () => {
    // Act
    const attempt = validate(fixture('latin1.csv'));

    // Assess
    await expect(attempt).rejects.toThrow(InvalidCsvEncoding);
    await expect(validate(fixture('latin1.csv'))).rejects.toThrow(
      'not valid UTF-8 (first bad byte near offset 15)',
    );
  });

  it('rejects an empty file with EmptyCsv, an InputError the pipeline quarantines', async () => {
    // Act
    const attempt = validate(fixture('empty.csv'));

    // Assess
    await expect(attempt).rejects.toThrow(EmptyCsv);
    await expect(validate('\n\n')).rejects.toThrow('no header row');
    const error = await validate(fixture('empty.csv')).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CsvError);
    expect((error as Error).name).toBe('EmptyCsv');
  });

  it('accepts a header-only file as valid with zero rows', async () => {
    // Act
    const { report, valid, invalid } = await validate(fixture('header-only.csv'), {
      fields: [
        { name: 'id', type: 'integer', constraints: { required: true } },
        { name: 'name' },
        { name: 'email' },
      ],
    });

    // Assess
    expect(report.valid).toBe(true);
    expect(report.stats).toMatchObject({ rows: 0, fields: 3, invalidRows: 0 });
    expect(valid).toBe('id,name,email\n');
    expect(invalid).toBe('_row_number,_errors,id,name,email\n');
  });

  it('bounds a single field and a single row', async () => {
    // Prepare
    const wide = `a,b\n1,${'x'.repeat(5000)}\n`;
    const unterminated = `a,b\n1,"${'y'.repeat(300_000)}`;

    // Act
    const field = validate(wide, undefined, { maxFieldBytes: 1000 });
    const row = validate(bytes(unterminated, 65_536), undefined, { maxRowBytes: 100_000 });

    // Assess
    await expect(field).rejects.toThrow(CsvFieldTooLarge);
    await expect(row).rejects.toThrow(CsvRowTooLarge);
  });

  it('reports a quote left open at the end of the file as a source error on its row', async () => {
    // Act
    const { report, valid } = await validate('a,b\n1,ok\n2,"never closed\n');

    // Assess
    expect(errorsOf(report)).toEqual([['source-error', 3, null]]);
    expect(report.stats.rows).toBe(2);
    expect(valid).toBe('a,b\n1,ok\n');
  });
});
