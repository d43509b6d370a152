import { describe, expect, it } from 'vitest';
import { errorsOf, oneField, validate } from './helpers.ts';

const CASES: { title: string; field: Record<string, unknown>; good: string[]; bad: string[] }[] = [
  { title: 'required', field: { constraints: { required: true } }, good: ['x'], bad: [''] },
  {
    title: 'minimum on integers',
    field: { type: 'integer', constraints: { minimum: 0 } },
    good: ['0', '7'],
    bad: ['-1'],
  },
  {
    title: 'maximum on numbers',
    field: { type: 'number', constraints: { maximum: 9.5 } },
    good: ['9.5', '-3'],
    bad: ['9.51'],
  },
  {
    title: 'maximum on decimals, compared exactly',
    field: { type: 'number', constraints: { maximum: 0.3 } },
    good: ['0.3', '0.29999', '.3', '0.300'],
    bad: ['0.30001', '1.'],
  },
  {
    title: 'minimum on dates',
    field: { type: 'date', constraints: { minimum: '2026-01-01' } },
    good: ['2026-01-01', '2026-06-30'],
    bad: ['2025-12-31'],
  },
  {
    title: 'maximum on datetimes',
    field: { type: 'datetime', constraints: { maximum: '2026-01-01T00:00:00Z' } },
    good: ['2025-12-31T23:59:59Z', '2026-01-01T01:00:00+02:00'],
    bad: ['2026-01-01T00:00:01Z'],
  },
  {
    title: 'minLength',
    field: { constraints: { minLength: 3 } },
    good: ['abc', 'abcd'],
    bad: ['ab'],
  },
  {
    title: 'maxLength',
    field: { constraints: { maxLength: 3 } },
    good: ['abc', 'a'],
    bad: ['abcd'],
  },
  {
    title: 'pattern (anchored)',
    field: { constraints: { pattern: '[A-Z]{3}' } },
    good: ['EUR'],
    bad: ['eur', 'EURO', 'xEUR'],
  },
  {
    title: 'enum on strings',
    field: { constraints: { enum: ['paid', 'shipped'] } },
    good: ['paid', 'shipped'],
    bad: ['Paid', 'lost'],
  },
  {
    title: 'enum on integers compares values',
    field: { type: 'integer', constraints: { enum: [1, 2] } },
    good: ['1', '+2'],
    bad: ['3'],
  },
];

describe('field constraints', () => {
  it.each(CASES)(
    '$title accepts valid cells and reports constraint errors on the others',
    async ({ field, good, bad }) => {
      // Prepare
      const csv = `id,value\n${[...good, ...bad].map((cell, index) => `${index},${cell}`).join('\n')}\n`;
      const schema = {
        fields: [
          { name: 'id', type: 'integer' },
          { name: 'value', ...field },
        ],
      };

      // Act
      const { report } = await validate(csv, schema);

      // Assess
      const expected = bad.map((_, index): [string, number, string] => [
        'constraint-error',
        good.length + index + 2,
        'value',
      ]);
      expect(errorsOf(report)).toEqual(expected);
      expect(report.errors.map((error) => error.cell)).toEqual(bad);
      expect(report.valid).toBe(false);
    },
  );

  it('applies constraints other than required only to non-null cells', async () => {
    // Prepare
    const csv = 'id,value\n1,\n2,n/a\n3,5\n';
    const schema = {
      fields: [
        { name: 'id' },
        { name: 'value', type: 'integer', constraints: { minimum: 1, pattern: '\\d' } },
      ],
      missingValues: ['', 'n/a'],
    };

    // Act
    const { report } = await validate(csv, schema);

    // Assess
    expect(report.errors).toEqual([]);
    expect(report.valid).toBe(true);
  });

  it('reports a repeated value of a unique field on its later rows only', async () => {
    // Prepare
    const csv = 'email,n\na@x.io,1\nb@x.io,2\na@x.io,3\n,4\n,5\na@x.io,6\n';
    const schema = {
      fields: [
        { name: 'email', constraints: { unique: true } },
        { name: 'n', type: 'integer' },
      ],
    };

    // Act
    const { report, invalid } = await validate(csv, schema);

    // Assess
    expect(errorsOf(report)).toEqual([
      ['unique-error', 4, 'email'],
      ['unique-error', 7, 'email'],
    ]);
    expect(
      invalid
        .split('\n')
        .slice(1, 3)
        .map((line) => line.split(',')[0]),
    ).toEqual(['4', '7']);
  });
});

describe('primary key', () => {
  it('rejects a repeated composite key and a key with a null in it', async () => {
    // Prepare
    const csv =
      'country,code,name\nFR,75,Paris\nFR,69,Lyon\nDE,75,Hamburg?\nFR,75,Paris again\n,13,Nowhere\n';
    const schema = {
      fields: [{ name: 'country' }, { name: 'code', type: 'integer' }, { name: 'name' }],
      primaryKey: ['country', 'code'],
    };

    // Act
    const { report } = await validate(csv, schema);

    // Assess
    expect(errorsOf(report)).toEqual([
      ['primary-key', 5, 'country,code'],
      ['constraint-error', 6, 'country'],
    ]);
    expect(report.errors[0]?.cell).toBe('FR,75');
    expect(report.errors[1]?.message).toContain('constraint "required"');
    expect(report.stats.invalidRows).toBe(2);
  });

  it('checks a unique field that is also the primary key once, as the primary key', async () => {
    // Prepare
    const csv = 'id\n1\n2\n1\n';
    const schema = oneField(
      { type: 'integer', constraints: { unique: true } },
      { primaryKey: 'value' },
    );

    // Act
    const { report } = await validate(csv.replace('id', 'value'), schema);

    // Assess
    expect(errorsOf(report)).toEqual([['primary-key', 4, 'value']]);
    expect(report.stats.errors).toBe(1);
  });
});

describe('missing values', () => {
  it('treats the listed values as null and the empty string as a value when not listed', async () => {
    // Prepare
    const csv = 'id,value\n1,NA\n2,\n3,7\n';
    const schema = {
      fields: [{ name: 'id' }, { name: 'value', type: 'integer', constraints: { required: true } }],
      missingValues: ['NA'],
    };

    // Act
    const { report } = await validate(csv, schema);

    // Assess
    expect(errorsOf(report)).toEqual([
      ['constraint-error', 2, 'value'],
      ['type-error', 3, 'value'],
    ]);
  });
});

describe('header checks', () => {
  const schema = (fieldsMatch?: string) => ({
    fields: [{ name: 'id', type: 'integer' }, { name: 'name' }],
    ...(fieldsMatch === undefined ? {} : { fieldsMatch }),
  });

  it('accepts the exact header and rejects a renamed, missing or extra column by default', async () => {
    // Act
    const exact = await validate('id,name\n1,Ada\n', schema());
    const renamed = await validate('id,nom\n1,Ada\n', schema());
    const missing = await validate('id\n1\n', schema());
    const extra = await validate('id,name,age\n1,Ada,36\n', schema());

    // Assess
    expect(exact.report.valid).toBe(true);
    expect(errorsOf(renamed.report)).toEqual([['incorrect-label', 1, 'name']]);
    expect(errorsOf(missing.report)).toEqual([['missing-label', 1, 'name']]);
    expect(errorsOf(extra.report)).toEqual([['extra-label', 1, 'age']]);
    expect([renamed, missing, extra].map(({ report }) => report.valid)).toEqual([
      false,
      false,
      false,
    ]);
  });

  it('maps columns by name with equal, subset, superset and partial', async () => {
    // Act
    const equal = await validate('name,id\nAda,x\n', schema('equal'));
    const subset = await validate('id\n1\n', schema('subset'));
    const superset = await validate('age,name,id\n36,Ada,1\n', schema('superset'));
    const supersetMissing = await validate('age,id\n36,1\n', schema('superset'));
    const partial = await validate('age,zip\n36,75001\n', schema('partial'));

    // Assess
    expect(errorsOf(equal.report)).toEqual([['type-error', 2, 'id']]);
    expect(equal.report.errors[0]?.cell).toBe('x');
    expect(subset.report.valid).toBe(true);
    expect(superset.report.valid).toBe(true);
    expect(errorsOf(supersetMissing.report)).toEqual([['missing-label', 1, 'name']]);
    expect(errorsOf(partial.report)).toEqual([['missing-label', 1, null]]);
  });

  it('reports duplicate and blank labels, with or without a schema', async () => {
    // Act
    const { report } = await validate('id,,id\n1,2,3\n');

    // Assess
    expect(errorsOf(report)).toEqual([
      ['blank-label', 1, null],
      ['duplicate-label', 1, 'id'],
    ]);
    expect(report.valid).toBe(false);
  });
});

describe('invalidRowTolerance', () => {
  const csv = `value\n${Array.from({ length: 99 }, (_, i) => i).join('\n')}\nlost\n`;

  it('accepts a file whose invalid rows stay within the tolerance, still splitting them out', async () => {
    // Act
    const { report, invalid } = await validate(
      csv,
      oneField({ type: 'integer' }, { invalidRowTolerance: 0.01 }),
    );

    // Assess
    expect(report.valid).toBe(true);
    expect(report.tolerance).toEqual({ invalidRowTolerance: 0.01, invalidRowRatio: 0.01 });
    expect(invalid.split('\n')[1]).toBe('101,"value: type is ""integer/default""",lost');
  });

  it('rejects the same file under a tighter tolerance, and any invalid row without one', async () => {
    // Act
    const tight = await validate(
      csv,
      oneField({ type: 'integer' }, { invalidRowTolerance: 0.005 }),
    );
    const none = await validate(csv, oneField({ type: 'integer' }));

    // Assess
    expect(tight.report.valid).toBe(false);
    expect(none.report.valid).toBe(false);
    expect(none.report.tolerance.invalidRowTolerance).toBe(0);
  });

  it('rejects a header error whatever the tolerance', async () => {
    // Act
    const { report } = await validate(
      'x\n1\n',
      oneField({ type: 'integer' }, { invalidRowTolerance: 1 }),
    );

    // Assess
    expect(report.valid).toBe(false);
    expect(errorsOf(report)).toEqual([['incorrect-label', 1, 'value']]);
  });
});
