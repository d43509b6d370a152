import type { Readable } from 'node:stream';
import { fieldParser } from './field-checks.ts';
import { readCsv } from './read-csv.ts';
import type { Field, FieldType, TableSchema } from './table-schema.ts';

/** Candidate types, narrowest first: a column gets the first one that parses every sampled cell. */
const CANDIDATES: readonly Field[] = [
  { name: 'integer', type: 'integer' },
  { name: 'number', type: 'number' },
  { name: 'boolean', type: 'boolean' },
  { name: 'date', type: 'date' },
  { name: 'datetime', type: 'datetime' },
  { name: 'time', type: 'time' },
  { name: 'uuid', type: 'string', format: 'uuid' },
  { name: 'email', type: 'string', format: 'email' },
  { name: 'uri', type: 'string', format: 'uri' },
];

/**
 * Infers a Frictionless Table Schema from the first `sampleRows` data rows: a starting point a
 * team edits (constraints, tolerance) and drops into `schemas/`. Reading stops after the sample.
 * Columns with only empty cells in the sample are typed `any`; the rest fall back to `string`.
 * @throws the same `CsvError`s as `validateCsv` for whole-file problems
 */
export async function inferSchema(
  input: Readable,
  options: { readonly sampleRows?: number } = {},
): Promise<TableSchema> {
  const sampleRows = options.sampleRows ?? 1000;
  const parsers = CANDIDATES.map((candidate) => fieldParser(candidate));
  let names: string[] = [];
  let alive: boolean[][] = [];
  let seen: boolean[] = [];
  let rows = 0;
  await readCsv(input, {
    header(labels) {
      names = labels.map((label, index) => (label.trim() === '' ? `field${index + 1}` : label));
      alive = labels.map(() => CANDIDATES.map(() => true));
      seen = labels.map(() => false);
    },
    record(row) {
      row.cells().forEach((cell, column) => {
        const candidates = alive[column];
        if (cell === '' || candidates === undefined) return;
        seen[column] = true;
        candidates.forEach((ok, index) => {
          if (ok && parsers[index]?.(cell) === undefined) candidates[index] = false;
        });
      });
      return ++rows < sampleRows;
    },
  });
  const fields: Field[] = names.map((name, column) => {
    if (!seen[column]) return { name, type: 'any' };
    const winner = CANDIDATES[alive[column]?.indexOf(true) ?? -1];
    if (winner === undefined) return { name, type: 'string' };
    const type = winner.type as FieldType;
    return winner.format === undefined ? { name, type } : { name, type, format: winner.format };
  });
  return { fields };
}
