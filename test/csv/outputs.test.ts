import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { summarizeCsvReport, validateCsv } from '#commons/csv/index.ts';
import { bytes, FIXTURES, fixture, validate } from './helpers.ts';

describe('split outputs', () => {
  it('writes accepted rows byte for byte and rejected rows with their errors first', async () => {
    // Prepare
    const csv = 'id,note\r\n1,"quoted, as sent"\r\n2,  spaces kept  \r\nx,"bad ""id"""\r\n3,last';
    const schema = { fields: [{ name: 'id', type: 'integer' }, { name: 'note' }] };

    // Act
    const { report, valid, invalid } = await validate(csv, schema);

    // Assess
    expect(valid).toBe('id,note\r\n1,"quoted, as sent"\r\n2,  spaces kept  \r\n3,last\r\n');
    expect(invalid).toBe(
      '_row_number,_errors,id,note\r\n4,"id: type is ""integer/default""",x,"bad ""id"""\r\n',
    );
    expect(report.stats).toEqual({
      rows: 4,
      fields: 2,
      invalidRows: 1,
      errors: 1,
      bytes: Buffer.byteLength(csv),
    });
  });

  it('neutralises formula cells in both outputs and flags them, leaving signed numbers alone', async () => {
    // Act
    const { report, valid } = await validate(fixture('formulas.csv'));

    // Assess
    expect(valid).toBe(
      [
        'id,formula,amount',
        "1,'=SUM(A1:A9),-12.5",
        "2,'@cmd,+3",
        "3,'+33 6 12 34 56 78,0",
        `4,"'=HYPERLINK(""http://x"",""y"")",1`,
        '',
      ].join('\n'),
    );
    expect(report.formulaCells).toBe(4);
    expect(report.warnings.map((w) => [w.type, w.rowNumber, w.fieldName])).toEqual([
      ['formula-cell', 2, 'formula'],
      ['formula-cell', 3, 'formula'],
      ['formula-cell', 4, 'formula'],
      ['formula-cell', 5, 'formula'],
    ]);
    expect(report.valid).toBe(true);
  });

  it('neutralises formulas in invalid.csv too', async () => {
    // Act
    const { invalid } = await validate('id,cmd\nx,=1+1\n', {
      fields: [{ name: 'id', type: 'integer' }, { name: 'cmd' }],
    });

    // Assess
    expect(invalid.split('\n')[1]).toBe(`2,"id: type is ""integer/default""",x,'=1+1`);
  });

  it('caps the error list, says so, and keeps counting', async () => {
    // Prepare
    const csv = `n\n${Array.from({ length: 250 }, (_, i) => `bad${i}`).join('\n')}\n`;

    // Act
    const { report } = await validate(
      csv,
      { fields: [{ name: 'n', type: 'integer' }] },
      { maxErrors: 10 },
    );

    // Assess
    expect(report.errors).toHaveLength(10);
    expect(report.errors.at(-1)?.cell).toBe('bad9');
    expect(report.errorsTruncated).toBe(true);
    expect(report.stats).toMatchObject({ errors: 250, invalidRows: 250 });
    expect(report.errorCounts).toEqual({ 'type-error': 250 });
  });

  it('waits for a slow sink (backpressure) and ends both sinks', async () => {
    // Prepare
    const csv = await readFile(join(FIXTURES, '../../../sample-data/orders/2026-01.csv'), 'utf8');
    const big = csv + csv.split('\n').slice(1).join('\n').repeat(200);
    const received: Buffer[] = [];
    let writes = 0;
    const slow = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _encoding, done) {
        writes++;
        received.push(chunk);
        setTimeout(done, 1);
      },
    });
    const ended = once(slow, 'finish');

    // Act
    const report = await validateCsv(bytes(big, 4096), undefined, { valid: slow });
    await ended;

    // Assess
    expect(Buffer.concat(received).toString('utf8')).toBe(big);
    expect(report.stats.rows).toBe(40 * 201);
    expect(writes).toBeGreaterThan(1);
  });

  it('lets a slow sink queue at most about 1 MiB before waiting for it', async () => {
    // Prepare
    const row = '1234567,user@example.com,12.50,EUR,FR,2026-01-01,paid,gift wrap\n';
    const big = `id,email,amount,currency,country,date,status,note\n${row.repeat(60_000)}`;
    let queued = 0;
    let received = 0;
    const slow: Writable = new Writable({
      write(chunk: Buffer, _encoding, done) {
        queued = Math.max(queued, slow.writableLength);
        received += chunk.length;
        setTimeout(done, 1);
      },
    });
    const ended = once(slow, 'finish');

    // Act
    await validateCsv(bytes(big, 64 * 1024), undefined, { valid: slow });
    await ended;

    // Assess: the 4 MB output was never queued whole, and all of it arrived.
    expect(received).toBe(Buffer.byteLength(big));
    expect(queued).toBeGreaterThan(16 * 1024);
    expect(queued).toBeLessThanOrEqual((1 << 20) + 2 * 64 * 1024);
  });

  it('summarises a report into counts for the state payload', async () => {
    // Prepare
    const { report } = await validate('id\n1\nx\n', { fields: [{ name: 'id', type: 'integer' }] });

    // Act
    const summary = summarizeCsvReport(report);

    // Assess
    expect(summary).toEqual({
      accepted: false,
      rows: 2,
      invalidRows: 1,
      errors: 1,
      bytes: 7,
      fields: 1,
    });
  });
});
