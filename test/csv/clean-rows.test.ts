import Papa from 'papaparse';
import { describe, expect, it } from 'vitest';
import { compileFieldCheck } from '#commons/csv/field-checks.ts';
import { type Field, parseTableSchema } from '#commons/csv/index.ts';
import { bytes, validate } from './helpers.ts';
import { random } from './random.ts';

// Nearly every row is settled by a compiled screen that reads cells in place; only the rest get
// the detailed checks. Here an independent oracle (papaparse on the whole text, the field checks
// cell by cell, a Set for the key) says which rows are invalid, on generated files with every
// kind of trouble, and the engine must agree row for row.

const ORDERS = {
  fields: [
    { name: 'id', type: 'integer', constraints: { required: true, minimum: 1 } },
    { name: 'email', type: 'string', format: 'email', constraints: { required: true } },
    { name: 'amount', type: 'number', constraints: { minimum: 0, maximum: 900 } },
    { name: 'currency', type: 'string', constraints: { pattern: '[A-Z]{3}' } },
    { name: 'country', type: 'string', constraints: { enum: ['FR', 'DE', 'ÉS'] } },
    { name: 'day', type: 'date', constraints: { minimum: '2020-01-01' } },
    { name: 'code', type: 'string', constraints: { minLength: 2, maxLength: 5 } },
    { name: 'note', type: 'string' },
  ],
  primaryKey: 'id',
};
const HEADER = 'id,email,amount,currency,country,day,code,note';
const FORMULAS = ['=1+2', '@cmd'];

/** Mostly valid rows with every kind of trouble sprinkled in, including a stray quote. */
function orders(rows: number, seed: number, terminator: string): string {
  const next = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  // Each cell is usually good, so that most rows are clean and a few are wrong in one way.
  const mostly = (good: string, bad: readonly string[]): string =>
    next() < 0.98 ? good : pick(bad);
  const lines = [HEADER];
  for (let i = 1; i <= rows; i++) {
    // Stretches of ASCII-only rows, whose accepted runs are written as the input's own bytes.
    const ascii = Math.floor(i / 1500) % 2 === 1;
    const cells = [
      String(next() < 0.01 ? i - 1 : i),
      next() < 0.05
        ? pick([
            '@x.io',
            'a@.io',
            'a@b..io',
            'a@b.io.',
            'a b@c.io',
            'a@b@c.io',
            ascii ? 'u@x' : 'ü@x.io',
            'a@b',
          ])
        : `user${i % 97}@example.com`,
      (Math.floor(next() * 100_000) / 100).toFixed(pick([0, 1, 2])),
      mostly(pick(['EUR', 'USD']), ['eur', 'EURO']),
      mostly(pick(ascii ? ['FR', 'DE'] : ['FR', 'DE', 'ÉS']), ['XX', 'fr']),
      mostly(`202${pick(['1', '4'])}-0${1 + Math.floor(next() * 9)}-${pick(['01', '15', '28'])}`, [
        '2019-01-01',
        '2023-02-29',
        '2024-02-29',
        '2021-04-31',
      ]),
      mostly(pick(['c1', 'code5']), ['x', 'toolong']),
      pick([
        '',
        'plain',
        ascii ? 'plain' : 'ünïcödé 😀',
        '"quoted, comma"',
        `"two${terminator}lines"`,
        '"say ""hi"""',
      ]),
    ];
    const roll = next();
    if (roll < 0.01) cells.pop();
    else if (roll < 0.02) cells.push('extra');
    else if (roll < 0.025) cells[0] = '';
    else if (roll < 0.03) cells[7] = 'a stray " quote';
    else if (roll < 0.035) cells[2] = '-3';
    else if (roll < 0.04) cells[2] = '+4';
    else if (roll < 0.045) cells[7] = pick(FORMULAS);
    else if (roll < 0.05) cells[2] = '';
    let line = cells.join(',');
    if (roll > 0.99) line = '';
    else if (roll > 0.985) line = ',,,,,,,';
    lines.push(line);
  }
  return `${lines.join(terminator)}${next() < 0.5 ? terminator : ''}`;
}

interface Expected {
  /** Row numbers (the header is row 1) of the rejected rows. */
  invalid: number[];
  /** The header and the accepted rows, formulas neutralised. */
  valid: string[][];
  formulas: number;
}

function oracle(csv: string, terminator: string): Expected {
  const fields = parseTableSchema(ORDERS).fields as Field[];
  const checks = fields.map((field) => compileFieldCheck(field));
  const rows = parse(csv, terminator);
  const keys = new Set<string>();
  const invalid: number[] = [];
  const valid: string[][] = [rows[0] ?? []];
  let formulas = 0;
  rows.slice(1).forEach((cells, index) => {
    // The generated cells that a spreadsheet would run; -3 and +4 are numbers.
    formulas += cells.filter((cell) => /^[=@]/.test(cell)).length;
    const cellProblem = fields.some((field, column) => {
      const cell = cells[column];
      if (cell === undefined) return true;
      if (cell === '') return field.constraints?.required === true;
      return checks[column]?.(cell) !== undefined;
    });
    const id = cells[0] ?? '';
    const usableKey = id !== '' && checks[0]?.(id) === undefined;
    const duplicate = usableKey && keys.has(id);
    if (usableKey) keys.add(id);
    const ragged = cells.length !== fields.length;
    const blank = cells.every((cell) => cell === '');
    if (cellProblem || duplicate || ragged || blank) invalid.push(index + 2);
    else valid.push(cells.map((cell) => (/^[=@]/.test(cell) ? `'${cell}` : cell)));
  });
  return { invalid, valid, formulas };
}

function parse(csv: string, terminator: string): string[][] {
  const rows = Papa.parse<string[]>(csv, {
    delimiter: ',',
    newline: terminator as Papa.ParseConfig['newline'],
  }).data;
  if (csv.endsWith(terminator)) rows.pop();
  return rows;
}

describe('rows settled in place', () => {
  it.each([
    ['LF', '\n', 1],
    ['CRLF', '\r\n', 2],
    ['CR', '\r', 3],
  ])('are the rows the detailed checks accept (%s)', async (_, terminator, seed) => {
    // Prepare: ~500 KB, so the scanner (which starts after the first 64 KiB) sees most of it.
    const csv = orders(6000, seed, terminator);
    const expected = oracle(csv, terminator);

    // Act
    const { report, valid, invalid } = await validate(bytes(csv, 4099), ORDERS, { maxErrors: 10 });

    // Assess
    expect(expected.invalid.length).toBeGreaterThan(500);
    expect(expected.invalid.length).toBeLessThan(2000);
    expect(report.stats.invalidRows).toBe(expected.invalid.length);
    const rejected = parse(invalid, terminator).slice(1);
    expect(rejected.map((row) => Number(row[0]))).toEqual(expected.invalid);
    expect(parse(valid, terminator)).toEqual(expected.valid);
    expect(report.formulaCells).toBe(expected.formulas);
  });
});
