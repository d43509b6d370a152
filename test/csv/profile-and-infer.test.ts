import { describe, expect, it } from 'vitest';
import { inferSchema, parseTableSchema, profileCsv } from '#commons/csv/index.ts';
import { bytes, fixture } from './helpers.ts';

describe('profileCsv', () => {
  it('computes nulls, distinct estimates, min/max and length ranges in one pass', async () => {
    // Prepare
    const csv = 'id,city,amount,code\n1,Lyon,12.5,007\n2,Paris,,010\n3,Lyon,-3,9\n4,,100,010\n';

    // Act
    const profile = await profileCsv(bytes(csv));

    // Assess
    expect(profile).toEqual({
      rows: 4,
      columns: [
        { name: 'id', nulls: 0, distinctEstimate: 4, min: 1, max: 4, minLength: 1, maxLength: 1 },
        {
          name: 'city',
          nulls: 1,
          distinctEstimate: 2,
          min: 'Lyon',
          max: 'Paris',
          minLength: 4,
          maxLength: 5,
        },
        {
          name: 'amount',
          nulls: 1,
          distinctEstimate: 3,
          min: -3,
          max: 100,
          minLength: 2,
          maxLength: 4,
        },
        {
          name: 'code',
          nulls: 0,
          distinctEstimate: 3,
          min: 7,
          max: 10,
          minLength: 1,
          maxLength: 3,
        },
      ],
    });
  });

  it('uses the schema for missing values and numeric columns', async () => {
    // Prepare
    const csv = 'qty,label\n10,NA\n9,b\nNA,a\n';
    const schema = parseTableSchema({
      fields: [{ name: 'qty', type: 'integer' }, { name: 'label' }],
      missingValues: ['NA'],
    });

    // Act
    const profile = await profileCsv(bytes(csv), { schema });

    // Assess
    expect(profile.columns.map((c) => [c.name, c.nulls, c.min, c.max])).toEqual([
      ['qty', 1, 9, 10],
      ['label', 1, 'a', 'b'],
    ]);
  });

  it('estimates a large distinct count within a few percent', async () => {
    // Prepare
    const csv = `n\n${Array.from({ length: 20_000 }, (_, i) => i % 10_000).join('\n')}\n`;

    // Act
    const profile = await profileCsv(bytes(csv));

    // Assess
    const estimate = profile.columns[0]?.distinctEstimate ?? 0;
    expect(Math.abs(estimate - 10_000) / 10_000).toBeLessThan(0.05);
  });
});

describe('inferSchema', () => {
  it('infers the narrowest type of each column from a sample', async () => {
    // Prepare
    const csv = [
      'id,price,active,day,at,clock,ref,email,site,note,empty',
      '1,9.99,true,2026-01-31,2026-01-31T10:00:00Z,10:00:00,123e4567-e89b-12d3-a456-426614174000,a@x.io,https://x.io,hi,',
      '2,10,false,2026-02-01,2026-02-01T11:30:00Z,11:30:00,123e4567-e89b-12d3-a456-426614174001,b@x.io,https://y.io,2,',
    ].join('\n');

    // Act
    const schema = await inferSchema(bytes(csv));

    // Assess
    expect(schema.fields).toEqual([
      { name: 'id', type: 'integer' },
      { name: 'price', type: 'number' },
      { name: 'active', type: 'boolean' },
      { name: 'day', type: 'date' },
      { name: 'at', type: 'datetime' },
      { name: 'clock', type: 'time' },
      { name: 'ref', type: 'string', format: 'uuid' },
      { name: 'email', type: 'string', format: 'email' },
      { name: 'site', type: 'string', format: 'uri' },
      { name: 'note', type: 'string' },
      { name: 'empty', type: 'any' },
    ]);
    expect(parseTableSchema(schema)).toEqual(schema);
  });

  it('reads only the sample: a row past it does not change the type', async () => {
    // Prepare
    const csv = 'n\n1\n2\n3\nnot a number\n';

    // Act
    const sampled = await inferSchema(bytes(csv), { sampleRows: 3 });
    const whole = await inferSchema(bytes(csv));

    // Assess
    expect(sampled.fields).toEqual([{ name: 'n', type: 'integer' }]);
    expect(whole.fields).toEqual([{ name: 'n', type: 'string' }]);
  });

  it('infers a semicolon-delimited, BOM-prefixed file', async () => {
    // Act
    const bom = await inferSchema(fixture('bom-crlf.csv'));
    const semicolon = await inferSchema(fixture('semicolon.csv'));

    // Assess
    expect(bom.fields).toEqual([
      { name: 'id', type: 'integer' },
      { name: 'name', type: 'string' },
    ]);
    expect(semicolon.fields.map((f) => f.name)).toEqual(['id', 'city', 'amount']);
  });
});
