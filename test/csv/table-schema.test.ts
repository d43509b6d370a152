import { describe, expect, it } from 'vitest';
import { InvalidTableSchema, parseTableSchema } from '#commons/csv/index.ts';

describe('parseTableSchema', () => {
  it('returns a valid schema unchanged', () => {
    // Prepare
    const json = {
      fields: [
        { name: 'id', type: 'integer', constraints: { required: true, unique: true, minimum: 1 } },
        { name: 'day', type: 'date', format: '%d/%m/%Y', constraints: { maximum: '31/12/2030' } },
      ],
      primaryKey: ['id'],
      missingValues: ['', 'NA'],
      fieldsMatch: 'equal',
      invalidRowTolerance: 0.02,
      dialect: { delimiter: ';', lineTerminator: '\r\n' },
    };

    // Act
    const schema = parseTableSchema(json);

    // Assess
    expect(schema).toEqual(json);
  });

  it.each([
    ['not an object', [], 'the schema is []'],
    ['no fields', { fields: [] }, 'fields is []'],
    ['an unknown type', { fields: [{ name: 'a', type: 'money' }] }, 'fields[0].type is "money"'],
    ['a duplicate field name', { fields: [{ name: 'a' }, { name: 'a' }] }, 'fields[1].name is "a"'],
    [
      'an unknown string format',
      { fields: [{ name: 'a', format: 'phone' }] },
      'fields[0].format is "phone"',
    ],
    [
      'a bad pattern',
      { fields: [{ name: 'a', constraints: { pattern: '(' } }] },
      'fields[0].constraints.pattern is "("',
    ],
    [
      'a minimum that is not of the field type',
      { fields: [{ name: 'a', type: 'integer', constraints: { minimum: 'zero' } }] },
      'fields[0].constraints.minimum is "zero"',
    ],
    [
      'a minimum on a string field',
      { fields: [{ name: 'a', constraints: { minimum: 1 } }] },
      'fields[0].constraints.minimum is 1',
    ],
    [
      'an enum member of the wrong type',
      { fields: [{ name: 'a', type: 'integer', constraints: { enum: [1, 'two'] } }] },
      'enum contains "two"',
    ],
    [
      'an unsupported date directive',
      { fields: [{ name: 'a', type: 'date', format: '%A %d' }] },
      'directive %A is not supported',
    ],
    [
      'a primary key naming no field',
      { fields: [{ name: 'a' }], primaryKey: 'b' },
      'primaryKey is "b"',
    ],
    [
      'a tolerance above 1',
      { fields: [{ name: 'a' }], invalidRowTolerance: 5 },
      'invalidRowTolerance is 5',
    ],
    [
      'an unknown fieldsMatch',
      { fields: [{ name: 'a' }], fieldsMatch: 'loose' },
      'fieldsMatch is "loose"',
    ],
    [
      'a two-character delimiter',
      { fields: [{ name: 'a' }], dialect: { delimiter: ';;' } },
      'dialect.delimiter is ";;"',
    ],
  ])('rejects %s, naming the value it received', (_, json, message) => {
    // Act
    const attempt = () => parseTableSchema(json);

    // Assess
    expect(attempt).toThrow(InvalidTableSchema);
    expect(attempt).toThrow(message);
  });

  it('throws an error named InvalidTableSchema, a ConfigurationError', () => {
    // Act
    const error = (() => {
      try {
        parseTableSchema({ fields: 'id' });
      } catch (caught) {
        return caught as Error;
      }
    })();

    // Assess
    expect(error?.name).toBe('InvalidTableSchema');
    expect(error?.message).toBe(
      'Invalid Table Schema: fields is "id"; expected a non-empty array of fields',
    );
  });
});
