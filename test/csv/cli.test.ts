import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/program.ts';
import { FIXTURES } from './helpers.ts';

const SAMPLES = join(import.meta.dirname, '../../sample-data');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function sluice(...args: string[]): Promise<Run> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const out = vi
    .spyOn(process.stdout, 'write')
    .mockImplementation((chunk) => stdout.push(String(chunk)) > 0);
  const err = vi
    .spyOn(process.stderr, 'write')
    .mockImplementation((chunk) => stderr.push(String(chunk)) > 0);
  try {
    const code = await main(['node', 'sluice', ...args]);
    return { code, stdout: stdout.join(''), stderr: stderr.join('') };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe('sluice validate', () => {
  let work: string;
  beforeEach(async () => {
    work = await mkdtemp(join(tmpdir(), 'sluice-validate-'));
  });
  afterEach(async () => {
    process.exitCode = undefined;
    await rm(work, { recursive: true, force: true });
  });

  it('accepts the sample orders and writes the three outputs', async () => {
    // Act
    const run = await sluice(
      'validate',
      join(SAMPLES, 'orders/2026-01.csv'),
      '--schema',
      join(SAMPLES, 'schemas/orders.json'),
      '--out',
      work,
    );

    // Assess
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('ACCEPTED — 40 rows, 0 invalid');
    const report = JSON.parse(await readFile(join(work, 'report.json'), 'utf8'));
    expect(report.stats).toEqual({
      rows: 40,
      fields: 9,
      invalidRows: 0,
      errors: 0,
      bytes: expect.any(Number),
    });
    expect(await readFile(join(work, 'valid.csv'), 'utf8')).toBe(
      await readFile(join(SAMPLES, 'orders/2026-01.csv'), 'utf8'),
    );
    expect(await readFile(join(work, 'invalid.csv'), 'utf8')).toBe(
      '_row_number,_errors,order_id,customer_id,customer_email,amount,currency,country,ordered_at,status,note\n',
    );
  });

  it('rejects the sample customers with exit 1 and prints the report with --json', async () => {
    // Act
    const run = await sluice(
      'validate',
      join(SAMPLES, 'customers/customers.csv'),
      '--schema',
      join(SAMPLES, 'schemas/customers.json'),
      '--out',
      work,
      '--json',
    );

    // Assess
    expect(run.code).toBe(1);
    const printed = JSON.parse(run.stdout);
    expect(printed).toEqual(JSON.parse(await readFile(join(work, 'report.json'), 'utf8')));
    expect(printed.valid).toBe(false);
    expect(
      printed.errors.map((e: { type: string; fieldName: string }) => [e.type, e.fieldName]),
    ).toEqual([
      ['type-error', 'email'],
      ['constraint-error', 'country'],
      ['primary-key', 'customer_id'],
      ['constraint-error', 'lifetime_value'],
      ['type-error', 'signup_date'],
    ]);
    expect(printed.formulaCells).toBe(1);
    const invalid = (await readFile(join(work, 'invalid.csv'), 'utf8')).trimEnd().split('\r\n');
    expect(invalid.map((line) => line.split(',')[0])).toEqual([
      '_row_number',
      '7',
      '13',
      '19',
      '25',
      '31',
    ]);
  });

  it('checks only the structure without a schema and defaults --out to <name>.sluice next to the file', async () => {
    // Prepare
    const csv = join(work, 'ragged.csv');
    await writeFile(csv, await readFile(join(FIXTURES, 'ragged.csv')));

    // Act
    const run = await sluice('validate', csv);

    // Assess
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('REJECTED — 4 rows, 2 invalid (50.00%), 2 errors');
    const report = JSON.parse(await readFile(join(work, 'ragged.sluice/report.json'), 'utf8'));
    expect(report.errors.map((e: { type: string }) => e.type)).toEqual([
      'missing-cell',
      'extra-cell',
    ]);
  });

  it('rejects a file that is not UTF-8 with exit 1 and the reason in report.json', async () => {
    // Act
    const run = await sluice('validate', join(FIXTURES, 'latin1.csv'), '--out', work);

    // Assess
    expect(run.code).toBe(1);
    const report = JSON.parse(await readFile(join(work, 'report.json'), 'utf8'));
    expect(report.valid).toBe(false);
    expect(report.errors[0].type).toBe('InvalidCsvEncoding');
    await expect(readFile(join(work, 'valid.csv'))).rejects.toThrow('ENOENT');
  });

  it('exits 2 on a missing file, a bad schema or a missing argument', async () => {
    // Prepare
    const schema = join(work, 'bad.json');
    await writeFile(schema, JSON.stringify({ fields: [{ name: 'a', type: 'money' }] }));

    // Act
    const missing = await sluice('validate', join(work, 'nope.csv'));
    const badSchema = await sluice(
      'validate',
      join(FIXTURES, 'ragged.csv'),
      '--schema',
      schema,
      '--out',
      work,
    );
    const noArgument = await sluice('validate');

    // Assess
    expect([missing.code, badSchema.code, noArgument.code]).toEqual([2, 2, 2]);
    expect(missing.stderr).toContain('no such file');
    expect(badSchema.stderr).toContain('fields[0].type is "money"');
  });

  it('documents outputs and exit codes in --help', async () => {
    // Act
    const run = await sluice('validate', '--help');

    // Assess
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Exit codes: 0 the file is accepted');
    expect(run.stdout).toContain('invalidRowTolerance');
  });
});

describe('sluice infer', () => {
  afterEach(() => {
    process.exitCode = undefined;
  });

  it('prints a schema that validates the file it came from', async () => {
    // Act
    const run = await sluice('infer', join(SAMPLES, 'orders/2026-01.csv'), '--sample-rows', '10');

    // Assess
    expect(run.code).toBe(0);
    const schema = JSON.parse(run.stdout);
    expect(schema.fields.slice(0, 4)).toEqual([
      { name: 'order_id', type: 'integer' },
      { name: 'customer_id', type: 'string' },
      { name: 'customer_email', type: 'string', format: 'email' },
      { name: 'amount', type: 'number' },
    ]);
  });

  it('exits 2 on a bad --sample-rows and 1 on an empty file', async () => {
    // Act
    const bad = await sluice('infer', join(FIXTURES, 'ragged.csv'), '--sample-rows', '0');
    const empty = await sluice('infer', join(FIXTURES, 'empty.csv'));

    // Assess
    expect(bad.code).toBe(2);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain('EmptyCsv');
  });
});
