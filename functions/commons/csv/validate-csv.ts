import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import type { CsvReport } from './csv-report.ts';
import { type CellCheck, type CellIssue, compileFieldCheck } from './field-checks.ts';
import { type ResolvedDialect, readCsv } from './read-csv.ts';
import { type Field, primaryKeyFields, type TableSchema } from './table-schema.ts';
import { UniqueKeyIndex } from './unique-index.ts';

/** Where the engine writes its split outputs. Either may be left out. */
export interface CsvSinks {
  /** Receives the header and the accepted rows exactly as they came (BOM dropped, formulas neutralised). */
  readonly valid?: Writable;
  /** Receives `_row_number,_errors,` then the header, and each rejected row with its errors. */
  readonly invalid?: Writable;
}

export interface ValidateOptions {
  /** How many errors (and formula warnings) the report lists; counting goes on past it. @default 100 */
  readonly maxErrors?: number;
  /** A single field over this size throws `CsvFieldTooLarge`. @default 1 MiB */
  readonly maxFieldBytes?: number;
  /** A single record over this size throws `CsvRowTooLarge`. @default 8 MiB */
  readonly maxRowBytes?: number;
  /** Directory where uniqueness state spills on big files. @default os.tmpdir() */
  readonly tmpDir?: string;
}

/** A field bound to the column that holds it. */
interface BoundField {
  readonly name: string;
  readonly column: number;
  readonly position: number;
  readonly required: boolean;
  readonly check: CellCheck;
}

interface RowProblem {
  readonly type: string;
  readonly fieldName: string | null;
  readonly position: number | null;
  readonly cell: string | null;
  readonly note: string;
}

const MAX_REPORTED_CELL = 200;
const FORMULA_STARTS = new Set(['=', '+', '-', '@', '\t', '\r']);
const SIGNED_NUMBER = /^[-+](?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][-+]?\d+)?%?$/;

/** Spreadsheets run cells starting with = + - @ (OWASP CSV injection); signed numbers are data. */
function isFormula(cell: string): boolean {
  return FORMULA_STARTS.has(cell.charAt(0)) && !SIGNED_NUMBER.test(cell);
}

function quoteFor(dialect: ResolvedDialect): (cell: string) => string {
  const { delimiter, quoteChar } = dialect;
  const doubled = quoteChar + quoteChar;
  return (cell) =>
    cell.includes(delimiter) ||
    cell.includes(quoteChar) ||
    cell.includes('\n') ||
    cell.includes('\r')
      ? quoteChar + cell.split(quoteChar).join(doubled) + quoteChar
      : cell;
}

function isBlank(cells: string[]): boolean {
  for (let i = 0; i < cells.length; i++) if (cells[i] !== '') return false;
  return true;
}

function cut(cell: string): string {
  return cell.length > MAX_REPORTED_CELL ? `${cell.slice(0, MAX_REPORTED_CELL)}…` : cell;
}

function describe(problem: RowProblem, rowNumber: number | null): string {
  const field = problem.fieldName === null ? '' : ` and field "${problem.fieldName}"`;
  const position = problem.position === null ? '' : ` at position ${problem.position}`;
  const cell = `"${cut(problem.cell ?? '')}"`;
  switch (problem.type) {
    case 'type-error':
      return `Type error in the cell ${cell} in row ${rowNumber}${field}${position}: ${problem.note}`;
    case 'constraint-error':
      return `Constraint error in the cell ${cell} in row ${rowNumber}${field}${position}: ${problem.note}`;
    case 'unique-error':
      return `Row ${rowNumber} breaks the unique constraint of field "${problem.fieldName}": ${problem.note}`;
    case 'primary-key':
      return `Row ${rowNumber} breaks the primary key (${problem.fieldName}): ${problem.note}`;
    case 'formula-cell':
      return `Cell ${cell} in row ${rowNumber}${field}${position} would run as a spreadsheet formula: ${problem.note}`;
    case 'blank-label':
    case 'duplicate-label':
    case 'incorrect-label':
    case 'missing-label':
    case 'extra-label':
      return `Header error (${problem.type})${position}: ${problem.note}`;
    default:
      return `Row ${rowNumber} (${problem.type})${problem.fieldName === null ? '' : ` in field "${problem.fieldName}"`}${position}: ${problem.note}`;
  }
}

async function write(sink: Writable | undefined, parts: string[]): Promise<void> {
  if (sink === undefined || parts.length === 0) return;
  const text = parts.join('');
  parts.length = 0;
  if (!sink.write(text)) await once(sink, 'drain');
}

/**
 * Validates a CSV file against a Frictionless Table Schema in one streaming pass.
 *
 * Streams `input` (bytes) once; writes accepted rows to `sinks.valid` and rejected rows, with
 * error columns, to `sinks.invalid`, respecting backpressure; calls `end()` on each sink when done
 * (the caller awaits 'finish' or upload completion itself). Without a schema only the structure
 * is checked (encoding, header labels, field counts, blank rows) and every column is a string.
 *
 * Row problems are report entries. Whole-file problems throw, after destroying both sinks so a
 * half-written output is never mistaken for a complete one.
 * @throws InvalidCsvEncoding, CsvFieldTooLarge, CsvRowTooLarge, EmptyCsv (all `CsvError`, an `InputError`)
 * @throws InvalidTableSchema when a schema bound, enum member or date format does not fit its type
 */
export async function validateCsv(
  input: Readable,
  schema: TableSchema | undefined,
  sinks: CsvSinks,
  options: ValidateOptions = {},
): Promise<CsvReport> {
  const maxErrors = options.maxErrors ?? 100;
  const missingValues = new Set(schema?.missingValues ?? ['']);
  const onlyEmptyIsNull = missingValues.size === 1 && missingValues.has('');
  const schemaFields: readonly Field[] = schema?.fields ?? [];
  // Compiled before reading, so a bad schema fails without consuming the input.
  const checks = schemaFields.map((field, index) => compileFieldCheck(field, `fields[${index}]`));
  const keyNames = schema === undefined ? [] : primaryKeyFields(schema);
  // A unique field that is also the whole primary key is checked once, as the primary key.
  const uniqueNames = schemaFields
    .filter((field) => field.constraints?.unique === true)
    .map((field) => field.name)
    .filter((name) => !(keyNames.length === 1 && keyNames[0] === name));

  const report: CsvReport = {
    valid: false,
    stats: { rows: 0, fields: 0, invalidRows: 0, errors: 0, bytes: 0 },
    errors: [],
    errorsTruncated: false,
    errorCounts: {},
    formulaCells: 0,
    warnings: [],
    tolerance: { invalidRowTolerance: schema?.invalidRowTolerance ?? 0, invalidRowRatio: 0 },
    dialect: { delimiter: ',', quoteChar: '"', lineTerminator: '\n' },
    labels: [],
  };
  let headerErrors = 0;
  let bound: BoundField[] = [];
  let width = 0;
  let rowNumber = 1;
  let quote: (cell: string) => string = (cell) => cell;
  let terminator = '\n';
  let delimiter = ',';
  const validParts: string[] = [];
  // The pending run of consecutive accepted records, copied with one slice instead of one per row.
  let runText = '';
  let runStart = 0;
  let runEnd = 0;
  const flushRun = (): void => {
    if (runEnd > runStart) validParts.push(runText.slice(runStart, runEnd));
    runStart = 0;
    runEnd = 0;
  };
  const invalidParts: string[] = [];
  const keyColumns: { name: string; column: number }[] = [];
  const uniqueColumns: { name: string; column: number; position: number; index: UniqueKeyIndex }[] =
    [];
  const indexes: UniqueKeyIndex[] = [];
  let keyIndex: UniqueKeyIndex | undefined;

  const record = (problem: RowProblem, row: number | null): void => {
    report.stats.errors++;
    report.errorCounts[problem.type] = (report.errorCounts[problem.type] ?? 0) + 1;
    if (report.errors.length >= maxErrors) {
      report.errorsTruncated = true;
      return;
    }
    report.errors.push({
      type: problem.type,
      rowNumber: row,
      fieldName: problem.fieldName,
      cell: problem.cell === null ? null : cut(problem.cell),
      message: describe(problem, row),
    });
  };

  const headerProblem = (
    type: string,
    label: string | null,
    position: number | null,
    note: string,
  ): void => {
    headerErrors++;
    record({ type, fieldName: label, position, cell: label, note }, 1);
  };

  const bindHeader = (labels: string[]): void => {
    const seen = new Map<string, number>();
    labels.forEach((label, index) => {
      if (label.trim() === '') headerProblem('blank-label', null, index + 1, 'the label is blank');
      else if (seen.has(label)) {
        headerProblem(
          'duplicate-label',
          label,
          index + 1,
          `label "${label}" already at position ${seen.get(label)}`,
        );
      } else seen.set(label, index + 1);
    });
    if (schema === undefined) {
      bound = labels.map((label, index) => ({
        name: label,
        column: index,
        position: index + 1,
        required: false,
        check: () => undefined,
      }));
      return;
    }
    const mode = schema.fieldsMatch ?? 'exact';
    const columnOf = (field: Field, index: number): number | undefined =>
      mode === 'exact'
        ? index < labels.length
          ? index
          : undefined
        : labels.indexOf(field.name) >= 0
          ? labels.indexOf(field.name)
          : undefined;
    schemaFields.forEach((field, index) => {
      const column = columnOf(field, index);
      if (column === undefined) {
        if (mode !== 'subset' && mode !== 'partial')
          headerProblem(
            'missing-label',
            field.name,
            index + 1,
            `field "${field.name}" has no column`,
          );
        return;
      }
      if (mode === 'exact' && labels[column] !== field.name) {
        headerProblem(
          'incorrect-label',
          field.name,
          column + 1,
          `label "${labels[column]}" should be "${field.name}"`,
        );
      }
      const isKey = keyNames.includes(field.name);
      const check = checks[index] as CellCheck;
      bound.push({
        name: field.name,
        column,
        position: column + 1,
        required: isKey || field.constraints?.required === true,
        check,
      });
    });
    if (mode === 'partial' && bound.length === 0)
      headerProblem('missing-label', null, null, 'no column matches a field of the schema');
    if (mode === 'exact' || mode === 'equal' || mode === 'subset') {
      const names = new Set(schemaFields.map((field) => field.name));
      labels.forEach((label, index) => {
        const extra = mode === 'exact' ? index >= schemaFields.length : !names.has(label);
        if (extra)
          headerProblem('extra-label', label, index + 1, `column "${label}" is not in the schema`);
      });
    }
    const columnByName = new Map(bound.map((field) => [field.name, field]));
    for (const name of keyNames) {
      const field = columnByName.get(name);
      if (field !== undefined) keyColumns.push({ name, column: field.column });
    }
    if (keyColumns.length > 0) {
      keyIndex = new UniqueKeyIndex({ tmpDir: options.tmpDir });
      indexes.push(keyIndex);
    }
    for (const name of uniqueNames) {
      const field = columnByName.get(name);
      if (field === undefined) continue;
      const index = new UniqueKeyIndex({ tmpDir: options.tmpDir, memoryKeys: 1 << 18 });
      indexes.push(index);
      uniqueColumns.push({ name, column: field.column, position: field.position, index });
    }
  };

  // Hot path, once per row: no closure is created here (tsx and esbuild's keepNames wrap every
  // closure creation in a costly __name call) and nothing is allocated for a valid row.
  const checkRow = (cells: string[], malformedQuotes: boolean): RowProblem[] | undefined => {
    let problems: RowProblem[] | undefined;
    if (malformedQuotes) {
      problems = [
        {
          type: 'source-error',
          fieldName: null,
          position: null,
          cell: null,
          note: 'a quoted field is malformed',
        },
      ];
    }
    if (isBlank(cells)) {
      problems ??= [];
      problems.push({
        type: 'blank-row',
        fieldName: null,
        position: null,
        cell: null,
        note: 'the row is completely blank',
      });
      return problems;
    }
    for (let column = width; column < cells.length; column++) {
      problems ??= [];
      problems.push({
        type: 'extra-cell',
        fieldName: null,
        position: column + 1,
        cell: cells[column] as string,
        note: `the row has ${cells.length} cells, the header ${width}`,
      });
    }
    let failed: Set<number> | undefined;
    for (let i = 0; i < bound.length; i++) {
      const field = bound[i] as BoundField;
      const cell = cells[field.column];
      let problem: RowProblem | undefined;
      if (cell === undefined) {
        problem = {
          type: 'missing-cell',
          fieldName: field.name,
          position: field.position,
          cell: null,
          note: `the row has ${cells.length} cells, the header ${width}`,
        };
      } else if (onlyEmptyIsNull ? cell === '' : missingValues.has(cell)) {
        if (!field.required) continue;
        problem = {
          type: 'constraint-error',
          fieldName: field.name,
          position: field.position,
          cell,
          note: 'constraint "required" is "true"',
        };
      } else {
        const issue: CellIssue | undefined = field.check(cell);
        if (issue === undefined) continue;
        problem = {
          type: issue.type,
          fieldName: field.name,
          position: field.position,
          cell,
          note: issue.note,
        };
      }
      problems ??= [];
      problems.push(problem);
      failed ??= new Set();
      failed.add(field.column);
    }
    for (let i = 0; i < uniqueColumns.length; i++) {
      const unique = uniqueColumns[i] as (typeof uniqueColumns)[number];
      const cell = cells[unique.column];
      // Null and ill-typed cells are already reported by the required and type checks.
      if (
        cell === undefined ||
        failed?.has(unique.column) ||
        (onlyEmptyIsNull ? cell === '' : missingValues.has(cell))
      )
        continue;
      if (!unique.index.add(cell)) {
        problems ??= [];
        problems.push({
          type: 'unique-error',
          fieldName: unique.name,
          position: unique.position,
          cell,
          note: `the value "${cut(cell)}" already appears in an earlier row`,
        });
      }
    }
    if (keyIndex !== undefined) {
      let key = '';
      let usable = true;
      for (let i = 0; i < keyColumns.length; i++) {
        const column = (keyColumns[i] as (typeof keyColumns)[number]).column;
        const cell = cells[column];
        if (
          cell === undefined ||
          failed?.has(column) ||
          (onlyEmptyIsNull ? cell === '' : missingValues.has(cell))
        )
          usable = false;
        key = i === 0 ? (cell ?? '') : `${key}\u001f${cell}`;
      }
      if (usable && !keyIndex.add(key)) {
        const shown = cut(key.replaceAll('\u001f', ','));
        problems ??= [];
        problems.push({
          type: 'primary-key',
          fieldName: keyColumns.map((k) => k.name).join(','),
          position: null,
          cell: shown,
          note: `the key "${shown}" already appears in an earlier row`,
        });
      }
    }
    return problems;
  };

  const sink = {
    header(cells: string[], raw: string, dialect: ResolvedDialect): void {
      report.dialect = dialect;
      report.labels = cells;
      report.stats.fields = cells.length;
      width = cells.length;
      quote = quoteFor(dialect);
      terminator = dialect.lineTerminator;
      delimiter = dialect.delimiter;
      bindHeader(cells);
      if (sinks.valid !== undefined)
        validParts.push(raw.endsWith(terminator) ? raw : raw + terminator);
      if (sinks.invalid !== undefined)
        invalidParts.push(
          ['_row_number', '_errors', ...cells].map(quote).join(delimiter) + terminator,
        );
    },
    record(
      cells: string[],
      text: string,
      start: number,
      end: number,
      malformedQuotes: boolean,
    ): boolean {
      rowNumber++;
      report.stats.rows++;
      let formulas = false;
      for (let i = 0; i < cells.length; i++) {
        const first = (cells[i] as string).charCodeAt(0);
        // = + - @ tab CR: a cheap first-character screen before the full test.
        if (
          (first === 61 ||
            first === 43 ||
            first === 45 ||
            first === 64 ||
            first === 9 ||
            first === 13) &&
          isFormula(cells[i] as string)
        ) {
          formulas = true;
          report.formulaCells++;
          if (report.warnings.length < maxErrors) {
            const problem: RowProblem = {
              type: 'formula-cell',
              fieldName: report.labels[i] ?? null,
              position: i + 1,
              cell: cells[i] as string,
              note: 'neutralised with a leading apostrophe in the outputs',
            };
            report.warnings.push({
              type: problem.type,
              rowNumber,
              fieldName: problem.fieldName,
              cell: cut(problem.cell ?? ''),
              message: describe(problem, rowNumber),
            });
          }
        }
      }
      const problems = checkRow(cells, malformedQuotes);
      const safeCells = formulas
        ? cells.map((cell) => (isFormula(cell) ? `'${cell}` : cell))
        : cells;
      if (problems === undefined) {
        if (sinks.valid === undefined) return true;
        // Only the file's last record can lack a terminator: it is the last one of its text.
        const unterminated = end === text.length && !text.endsWith(terminator);
        if (formulas || unterminated) {
          flushRun();
          validParts.push(
            formulas
              ? safeCells.map(quote).join(delimiter) + terminator
              : `${text.slice(start, end)}${terminator}`,
          );
        } else if (text === runText && start === runEnd) {
          runEnd = end;
        } else {
          flushRun();
          runText = text;
          runStart = start;
          runEnd = end;
        }
        return true;
      }
      flushRun();
      report.stats.invalidRows++;
      for (const problem of problems) record(problem, rowNumber);
      if (sinks.invalid !== undefined) {
        const summary = problems
          .map((p) => (p.fieldName === null ? `${p.type}: ${p.note}` : `${p.fieldName}: ${p.note}`))
          .join('; ');
        invalidParts.push(
          [String(rowNumber), summary, ...safeCells].map(quote).join(delimiter) + terminator,
        );
      }
      return true;
    },
    async flush(): Promise<void> {
      flushRun();
      await Promise.all([write(sinks.valid, validParts), write(sinks.invalid, invalidParts)]);
    },
  };

  try {
    const { bytes } = await readCsv(input, sink, {
      dialect: schema?.dialect,
      maxFieldBytes: options.maxFieldBytes,
      maxRowBytes: options.maxRowBytes,
    });
    report.stats.bytes = bytes;
  } catch (error) {
    sinks.valid?.destroy();
    sinks.invalid?.destroy();
    throw error;
  } finally {
    for (const index of indexes) index.close();
  }
  sinks.valid?.end();
  sinks.invalid?.end();
  const { rows, invalidRows } = report.stats;
  report.tolerance.invalidRowRatio = rows === 0 ? 0 : invalidRows / rows;
  report.valid =
    headerErrors === 0 && report.tolerance.invalidRowRatio <= report.tolerance.invalidRowTolerance;
  return report;
}
