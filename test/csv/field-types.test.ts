import { describe, expect, it } from 'vitest';
import { errorsOf, oneField, validate } from './helpers.ts';

/** Each case: a field, cells that must pass, cells that must fail with a type error. */
const CASES: { title: string; field: Record<string, unknown>; good: string[]; bad: string[] }[] = [
  { title: 'string', field: { type: 'string' }, good: ['anything', ' spaced ', '42'], bad: [] },
  {
    title: 'string/email',
    field: { type: 'string', format: 'email' },
    good: ['ada@example.com', 'a.b+c@mail.example.org'],
    bad: ['ada', 'ada@example', 'a b@example.com'],
  },
  {
    title: 'string/uri',
    field: { type: 'string', format: 'uri' },
    good: ['https://example.com/a?b=1', 'mailto:ada@example.com'],
    bad: ['example.com', 'https://exa mple.com'],
  },
  {
    title: 'string/uuid',
    field: { type: 'string', format: 'uuid' },
    good: ['123e4567-e89b-12d3-a456-426614174000'],
    bad: ['123e4567-e89b-12d3-a456', 'not-a-uuid'],
  },
  {
    title: 'integer',
    field: { type: 'integer' },
    good: ['0', '-17', '+42', '9007199254740993'],
    bad: ['1.5', '1e3', 'abc', ' 1'],
  },
  {
    title: 'integer without bareNumber',
    field: { type: 'integer', bareNumber: false },
    good: ['€12', '42 units'],
    bad: ['twelve'],
  },
  {
    title: 'number',
    field: { type: 'number' },
    good: ['3.14', '-0.5', '.5', '1e-3', 'NaN', 'INF', '-INF'],
    bad: ['3,14', '1.2.3', 'pi'],
  },
  {
    title: 'number with decimalChar and groupChar',
    field: { type: 'number', decimalChar: ',', groupChar: '.' },
    good: ['1.234,50', '12,5', '7'],
    bad: ['1,2,3', 'abc'],
  },
  {
    title: 'number without bareNumber',
    field: { type: 'number', bareNumber: false },
    good: ['12.50€', '$3.5', '45%'],
    bad: ['n/a'],
  },
  {
    title: 'boolean',
    field: { type: 'boolean' },
    good: ['true', 'FALSE', '1', '0'],
    bad: ['yes', 'T'],
  },
  {
    title: 'boolean with trueValues/falseValues',
    field: { type: 'boolean', trueValues: ['yes'], falseValues: ['no'] },
    good: ['yes', 'no'],
    bad: ['true', '1'],
  },
  {
    title: 'date',
    field: { type: 'date' },
    good: ['2026-01-31', '2024-02-29'],
    bad: ['2026-02-30', '2025-02-29', '2026-13-01', '31/01/2026', '2026-1-5'],
  },
  {
    title: 'date with a pattern format',
    field: { type: 'date', format: '%d/%m/%Y' },
    good: ['31/01/2026', '1/2/2026'],
    bad: ['2026-01-31', '31/02/2026'],
  },
  {
    title: 'date/any',
    field: { type: 'date', format: 'any' },
    good: ['2026-01-31', 'Jan 31 2026'],
    bad: ['someday'],
  },
  {
    title: 'time',
    field: { type: 'time' },
    good: ['00:00:00', '23:59:59', '12:30:00.250', '08:00:00Z'],
    bad: ['24:00:00', '12:60:00', '12:30'],
  },
  {
    title: 'time with a pattern format',
    field: { type: 'time', format: '%H:%M' },
    good: ['9:05', '23:59'],
    bad: ['25:00', '9h05'],
  },
  {
    title: 'datetime',
    field: { type: 'datetime' },
    good: ['2026-01-31T12:00:00Z', '2026-01-31T12:00:00.5+02:00', '2026-01-31 08:00:00'],
    bad: ['2026-01-31', '2026-01-31T25:00:00Z', '2026-02-30T00:00:00Z'],
  },
  {
    title: 'datetime with a pattern format',
    field: { type: 'datetime', format: '%Y%m%d %H%M%S' },
    good: ['20260131 120000'],
    bad: ['2026-01-31T12:00:00Z'],
  },
  {
    title: 'year',
    field: { type: 'year' },
    good: ['2026', '1999'],
    bad: ['26', '2026-01', 'MMXXVI'],
  },
  { title: 'any', field: { type: 'any' }, good: ['anything', '1', '2026-01-01'], bad: [] },
];

describe('field types', () => {
  it.each(CASES)(
    '$title accepts valid cells and reports type errors on the others',
    async ({ field, good, bad }) => {
      // Prepare
      const csv = `value\n${[...good, ...bad].map((cell) => (cell.includes(',') ? `"${cell}"` : cell)).join('\n')}\n`;

      // Act
      const { report } = await validate(csv, oneField(field));

      // Assess
      const expected = bad.map((_, index): [string, number, string] => [
        'type-error',
        good.length + index + 2,
        'value',
      ]);
      expect(errorsOf(report)).toEqual(expected);
      expect(report.errors.map((error) => error.cell)).toEqual(bad);
      expect(report.stats).toMatchObject({
        rows: good.length + bad.length,
        invalidRows: bad.length,
      });
      expect(report.valid).toBe(bad.length === 0);
    },
  );

  it('names the type and format in the message, Frictionless-style', async () => {
    // Prepare
    const csv = 'id,when\n1,2026-01-01\nx,2026-02-30\n';
    const schema = {
      fields: [
        { name: 'id', type: 'integer' },
        { name: 'when', type: 'date' },
      ],
    };

    // Act
    const { report } = await validate(csv, schema);

    // Assess
    expect(report.errors.map((error) => error.message)).toEqual([
      'Type error in the cell "x" in row 3 and field "id" at position 1: type is "integer/default"',
      'Type error in the cell "2026-02-30" in row 3 and field "when" at position 2: type is "date/default"',
    ]);
    expect(report.stats).toMatchObject({ rows: 2, invalidRows: 1, errors: 2 });
  });
});
