import { describe, expect, it } from 'vitest';
import { compileFieldCheck } from '#commons/csv/field-checks.ts';
import { type Field, parseTableSchema } from '#commons/csv/index.ts';
import { compileRangeCheck } from '#commons/csv/range-checks.ts';
import { random } from './random.ts';

// Clean rows are settled by range checks that read cells in place; the detailed checks only see
// the rest. So a range check must give its field check's verdict on every cell.

describe('range checks', () => {
  it('give the same verdict as the field checks on random cells', () => {
    // Prepare
    const next = random(10);
    const alphabet = ['0', '1', '9', '.', '-', '+', '@', 'a', 'Z', ' ', 'é', 'e', ':', '\t', 'E'];
    const fields = parseTableSchema({
      fields: [
        { name: 'a', type: 'integer', constraints: { minimum: 5, maximum: 900 } },
        { name: 'a2', type: 'integer' },
        { name: 'b', type: 'number', constraints: { minimum: 0.5, maximum: 99.5 } },
        { name: 'b2', type: 'number' },
        { name: 'c', type: 'date', constraints: { minimum: '2001-01-01' } },
        { name: 'c2', type: 'date' },
        { name: 'd', type: 'string', constraints: { enum: ['a', 'aa', 'Za'], maxLength: 2 } },
        { name: 'e', type: 'string', format: 'email' },
        { name: 'f', type: 'string', constraints: { minLength: 2 } },
        { name: 'g', type: 'string', constraints: { pattern: '[a-z]+' } },
        { name: 'h', type: 'boolean' },
      ],
    }).fields as Field[];
    const cells = [
      '2001-01-01',
      '2000-12-31',
      '2024-02-29',
      '2023-02-29',
      'a@b.c',
      'a.b@c.d.e',
      '0900',
      '1e2',
      '-INF',
      '1234567890123456',
      '99.50',
    ];
    for (let n = 0; n < 20_000; n++) {
      const length = 1 + Math.floor(next() * 11);
      let cell = '';
      for (let i = 0; i < length; i++) cell += alphabet[Math.floor(next() * alphabet.length)];
      cells.push(cell);
    }

    for (const field of fields) {
      // Act
      const check = compileFieldCheck(field);
      const valid = compileRangeCheck(field, check);

      // Assess: the cell in the middle of a longer text, as the scanner gives it.
      let accepted = 0;
      const disagreements: string[] = [];
      for (const cell of cells) {
        const text = `x,${cell},y`;
        const verdict = valid(text, 2, text.length - 2);
        if (verdict !== (check(cell) === undefined)) disagreements.push(cell);
        if (verdict) accepted++;
      }
      expect(disagreements, field.name).toEqual([]);
      expect(accepted, field.name).toBeGreaterThan(0);
    }
  });
});
