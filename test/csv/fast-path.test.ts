import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileInPlaceCheck } from '#commons/csv/fast-records.ts';
import { compileFieldCheck } from '#commons/csv/field-checks.ts';
import { type Field, parseTableSchema } from '#commons/csv/index.ts';
import { bytes, FIXTURES, type Validated, validate } from './helpers.ts';

// The quote-free fast path (functions/commons/csv/fast-records.ts) must be invisible: the report,
// valid.csv and invalid.csv are the same with it on and off. It starts after the first 64 KiB
// slice, so the generated inputs are a few hundred KiB and cross many slice boundaries.

/** A small deterministic generator (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ORDERS = {
  fields: [
    { name: 'id', type: 'integer', constraints: { required: true, minimum: 1 } },
    { name: 'email', type: 'string', format: 'email', constraints: { required: true } },
    { name: 'amount', type: 'number', constraints: { minimum: 0, maximum: 900 } },
    { name: 'currency', type: 'string', constraints: { pattern: '[A-Z]{3}' } },
    { name: 'country', type: 'string', constraints: { enum: ['FR', 'DE', 'ÉS'] } },
    { name: 'day', type: 'date', constraints: { minimum: '2020-01-01' } },
    { name: 'code', type: 'string', constraints: { minLength: 2, maxLength: 5, unique: true } },
    { name: 'note', type: 'string' },
  ],
  primaryKey: 'id',
};
const HEADER = 'id,email,amount,currency,country,day,code,note';

/** Mostly valid rows with every kind of trouble sprinkled in, including a stray quote mid-file. */
function orders(rows: number, seed: number, terminator: string): string {
  const next = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const lines = [HEADER];
  for (let i = 1; i <= rows; i++) {
    const cells = [
      String(next() < 0.01 ? i - 1 : i),
      next() < 0.05
        ? pick(['@x.io', 'a@.io', 'a@b..io', 'a@b.io.', 'a b@c.io', 'a@b@c.io', 'ü@x.io', 'a@b'])
        : `user${i % 97}@example.com`,
      (Math.floor(next() * 100_000) / 100).toFixed(pick([0, 1, 2])),
      pick(['EUR', 'USD', 'eur']),
      pick(['FR', 'DE', 'ÉS', 'XX']),
      `20${pick(['19', '21', '24'])}-0${1 + Math.floor(next() * 9)}-${pick(['01', '15', '29', '31'])}`,
      `c${i % 5000}`,
      pick([
        '',
        'plain',
        'ünïcödé 😀',
        '"quoted, comma"',
        `"two${terminator}lines"`,
        '"say ""hi"""',
        '=1+2',
      ]),
    ];
    const roll = next();
    if (roll < 0.01) cells.pop();
    else if (roll < 0.02) cells.push('extra');
    else if (roll < 0.025) cells[0] = '';
    else if (roll < 0.03) cells[7] = 'a stray " quote';
    else if (roll < 0.035) cells[2] = '-3';
    else if (roll < 0.04) cells[2] = '+4';
    else if (roll < 0.045) cells[0] = 'x1';
    let line = cells.join(',');
    if (roll > 0.99) line = '';
    else if (roll > 0.985) line = ',,,,,,,';
    lines.push(line);
  }
  return `${lines.join(terminator)}${next() < 0.5 ? terminator : ''}`;
}

async function bothWays(
  input: () => string | Buffer | ReturnType<typeof bytes>,
  schema?: unknown,
  options: Record<string, unknown> = {},
): Promise<Validated> {
  const slow = await validate(input(), schema, { maxErrors: 1000, ...options, fastPath: false });
  const fast = await validate(input(), schema, { maxErrors: 1000, ...options, fastPath: true });
  expect(fast.report).toEqual(slow.report);
  expect(fast.valid).toBe(slow.valid);
  expect(fast.invalid).toBe(slow.invalid);
  return fast;
}

describe('quote-free fast path', () => {
  it('never calls a cell valid in place that its regular check rejects', () => {
    const next = random(10);
    const alphabet = ['0', '1', '9', '.', '-', '+', '@', 'a', 'Z', ' ', 'é', 'e', ':', '\t'];
    const fields = parseTableSchema({
      fields: [
        { name: 'a', type: 'integer', constraints: { minimum: 5, maximum: 900 } },
        { name: 'b', type: 'number', constraints: { minimum: 0.5, maximum: 99.5 } },
        { name: 'c', type: 'date', constraints: { minimum: '2001-01-01' } },
        { name: 'd', type: 'string', constraints: { enum: ['a', 'aa', 'Za'], maxLength: 2 } },
        { name: 'e', type: 'string', format: 'email' },
        { name: 'f', type: 'string', constraints: { minLength: 2 } },
      ],
    }).fields as Field[];
    const cells = ['2001-01-01', '2000-12-31', '2024-02-29', '2023-02-29', 'a@b.c', 'a.b@c.d.e'];
    for (let n = 0; n < 20_000; n++) {
      const length = Math.floor(next() * 12);
      let cell = '';
      for (let i = 0; i < length; i++) cell += alphabet[Math.floor(next() * alphabet.length)];
      cells.push(cell);
    }
    for (const field of fields) {
      const inPlace = compileInPlaceCheck(field);
      const check = compileFieldCheck(field);
      expect(inPlace, field.name).toBeDefined();
      for (const cell of cells.filter((c) => c !== '')) {
        const text = `,${cell},`;
        if (inPlace?.(text, 1, text.length - 1))
          expect(check(cell), `${field.name} ${cell}`).toBeUndefined();
      }
    }
  });

  it('gives the same outputs on every fixture', async () => {
    for (const name of await readdir(FIXTURES)) {
      const content = await readFile(join(FIXTURES, name));
      const run = (fastPath: boolean) =>
        validate(content, undefined, { fastPath }).then(
          (result) => result,
          (error: Error) => error.message,
        );
      expect(await run(true), name).toEqual(await run(false));
    }
  });

  it.each([
    ['LF', '\n', 1],
    ['CRLF', '\r\n', 2],
    ['CR', '\r', 3],
  ])('gives the same outputs on mixed generated rows with %s', async (_, terminator, seed) => {
    const csv = orders(6000, seed, terminator);
    const result = await bothWays(() => csv, ORDERS);
    expect(result.report.stats.rows).toBeGreaterThan(5000);
    expect(result.report.stats.invalidRows).toBeGreaterThan(100);
    expect(result.valid.length).toBeGreaterThan(50_000);
  });

  it('gives the same outputs whatever the input chunk size', async () => {
    const csv = `\uFEFF${orders(5000, 4, '\r\n')}`;
    for (const chunk of [7, 1000, 70_000]) await bothWays(() => bytes(csv, chunk), ORDERS);
  });

  it('gives the same outputs without a schema, and with other null values', async () => {
    const csv = orders(5000, 5, '\n');
    await bothWays(() => csv);
    await bothWays(() => csv, { ...ORDERS, missingValues: ['', 'NA'] });
  });

  it('gives the same outputs with a semicolon delimiter and a single-quote quote char', async () => {
    const csv = orders(5000, 6, '\n')
      .replaceAll(',', ';')
      .replaceAll("'", '"')
      .replaceAll('"', "'");
    await bothWays(() => csv, { ...ORDERS, dialect: { delimiter: ';', quoteChar: "'" } });
  });

  it('gives the same outputs for a quote left open mid-file', async () => {
    const csv = `${orders(3000, 7, '\n')}\n1,"open quote\n${orders(3000, 8, '\n')}`;
    await bothWays(() => csv, ORDERS);
  });

  it('throws the same size error for an oversized field past the first slice', async () => {
    const csv = `${orders(3000, 9, '\n')}\n9999,${'x'.repeat(5000)}\n`;
    const run = (fastPath: boolean) =>
      validate(csv, ORDERS, { fastPath, maxFieldBytes: 1000 }).then(
        () => 'accepted',
        (error: Error) => error.message,
      );
    const slow = await run(false);
    expect(slow).toMatch(/over the 1000-byte limit/);
    expect(await run(true)).toBe(slow);
  });
});
