import type { Readable } from 'node:stream';
import { fieldParser } from './field-checks.ts';
import { HyperLogLog } from './hyperloglog.ts';
import { readCsv } from './read-csv.ts';
import type { TableSchema } from './table-schema.ts';

/** Per-column aggregates of a CSV file, computed in one streaming pass. */
export interface CsvProfile {
  /** Data rows, header excluded. */
  rows: number;
  columns: {
    name: string;
    /** Cells that are missing or equal to one of the schema's `missingValues` (default: empty). */
    nulls: number;
    /** HyperLogLog estimate of the distinct non-null values, within a few percent. */
    distinctEstimate: number;
    /** Numeric when the schema types the column as integer, number or year, or when every non-null cell is a number; otherwise the lexicographic extreme. */
    min?: string | number;
    max?: string | number;
    minLength?: number;
    maxLength?: number;
  }[];
}

const NUMERIC = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;

class ColumnStats {
  nulls = 0;
  readonly distinct = new HyperLogLog();
  numeric = true;
  minNumber = Number.POSITIVE_INFINITY;
  maxNumber = Number.NEGATIVE_INFINITY;
  minText: string | undefined;
  maxText: string | undefined;
  minLength = Number.POSITIVE_INFINITY;
  maxLength = 0;

  constructor(
    readonly name: string,
    readonly toNumber: ((cell: string) => number | undefined) | undefined,
  ) {}

  add(cell: string): void {
    this.distinct.add(cell);
    if (cell.length < this.minLength) this.minLength = cell.length;
    if (cell.length > this.maxLength) this.maxLength = cell.length;
    if (this.minText === undefined || cell < this.minText) this.minText = cell;
    if (this.maxText === undefined || cell > this.maxText) this.maxText = cell;
    if (!this.numeric) return;
    const value =
      this.toNumber === undefined
        ? NUMERIC.test(cell)
          ? Number(cell)
          : undefined
        : this.toNumber(cell);
    // Without a schema the column stays numeric only while every cell is a number.
    if (value === undefined) {
      if (this.toNumber === undefined) this.numeric = false;
      return;
    }
    if (value < this.minNumber) this.minNumber = value;
    if (value > this.maxNumber) this.maxNumber = value;
  }

  result(): CsvProfile['columns'][number] {
    const column: CsvProfile['columns'][number] = {
      name: this.name,
      nulls: this.nulls,
      distinctEstimate: this.distinct.estimate(),
    };
    if (this.minText === undefined) return column;
    const numeric = this.numeric && this.minNumber <= this.maxNumber;
    column.min = numeric ? this.minNumber : this.minText;
    column.max = numeric ? this.maxNumber : this.maxText;
    column.minLength = this.minLength;
    column.maxLength = this.maxLength;
    return column;
  }
}

/**
 * Profiles a CSV file in one streaming pass: per column, null count, distinct-count estimate,
 * min/max and length range. Memory is a few KB per column whatever the file size.
 * @throws the same `CsvError`s as `validateCsv` for whole-file problems
 */
export async function profileCsv(
  input: Readable,
  options: { readonly schema?: TableSchema } = {},
): Promise<CsvProfile> {
  const { schema } = options;
  const missing = new Set(schema?.missingValues ?? ['']);
  let columns: ColumnStats[] = [];
  let rows = 0;
  await readCsv(
    input,
    {
      header(labels) {
        columns = labels.map((name) => {
          const field = schema?.fields.find((candidate) => candidate.name === name);
          const numericType =
            field?.type === 'integer' || field?.type === 'number' || field?.type === 'year';
          const parse = field !== undefined && numericType ? fieldParser(field) : undefined;
          return new ColumnStats(
            name,
            parse === undefined ? undefined : (cell) => parse(cell) as number | undefined,
          );
        });
      },
      record(row) {
        rows++;
        columns.forEach((column, index) => {
          const cell = row.at(index);
          if (cell === undefined || missing.has(cell)) column.nulls++;
          else column.add(cell);
        });
        return true;
      },
    },
    { dialect: schema?.dialect },
  );
  return { rows, columns: columns.map((column) => column.result()) };
}
