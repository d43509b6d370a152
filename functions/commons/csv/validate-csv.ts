import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import type { CsvReport } from './csv-report.ts';
import { type CellCheck, type CellIssue, compileFieldCheck } from './field-checks.ts';
import { ALWAYS_VALID, compileRangeCheck, type RangeCheck } from './range-checks.ts';
import { type CsvRecordSink, type CsvRow, type ResolvedDialect, readCsv } from './read-csv.ts';
import { type Field, primaryKeyFields, type TableSchema } from './table-schema.ts';
import { UniqueKeyIndex } from './unique-index.ts';

/** Where the engine writes its split outputs. Either may be left out. */
export interface CsvSinks {
  /** Receives the header and the accepted rows exactly as they came (BOM dropped, formulas neutralised). */
  readonly valid?: Writable;
  /**
   * Receives `_row_number,_errors,` then the header, and each rejected row after its errors, as
   * it came (formulas neutralised).
   */
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
  readonly valid: RangeCheck;
}

interface UniqueColumn {
  readonly name: string;
  readonly column: number;
  readonly position: number;
  readonly index: UniqueKeyIndex;
}

interface KeyColumn {
  readonly name: string;
  readonly column: number;
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

function isBlank(row: CsvRow): boolean {
  for (let k = 0; k < row.count; k++) if (row.starts[k] !== row.ends[k]) return false;
  return true;
}

/** The cells as written to the outputs: formulas behind a leading apostrophe. */
function neutralised(cells: string[]): string[] {
  return cells.map((cell) => (isFormula(cell) ? `'${cell}` : cell));
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

/**
 * Text on its way to one output, written in pieces of at least WRITE_BYTES. The invalid rows of a
 * 64 KB input chunk are a few KB: a write for each cost more than validating them.
 */
class Output {
  private readonly parts: (string | Uint8Array)[] = [];
  private length = 0;
  private bytes = false;

  constructor(private readonly sink: Writable | undefined) {}

  push(part: string | Uint8Array): void {
    if (this.sink === undefined) return;
    this.parts.push(part);
    this.length += part.length;
    if (typeof part !== 'string') this.bytes = true;
  }

  /** Writes what is held once it is big enough (or `all` of it), waiting out backpressure. */
  async write(all: boolean): Promise<void> {
    const { sink } = this;
    if (sink === undefined || this.length === 0 || (!all && this.length < WRITE_BYTES)) return;
    const text = this.bytes
      ? Buffer.concat(
          this.parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : part)),
        )
      : this.parts.join('');
    this.parts.length = 0;
    this.length = 0;
    this.bytes = false;
    // Waiting as soon as write() returns false (past a 16 KB highWaterMark) made parsing and the
    // file writes take turns; letting a few writes queue lets them overlap.
    if (!sink.write(text) && sink.writableLength > MAX_BUFFERED_BYTES) await once(sink, 'drain');
  }
}

// Bigger pieces measured slower: joining them falls out of the CPU cache.
const WRITE_BYTES = 64 * 1024;
const MAX_BUFFERED_BYTES = 1 << 20;

type RowScreen = (texts: string[], starts: number[], ends: number[]) => boolean;

/** Whether a cell whose first character is `first` may be a formula (then `isFormula` decides). */
function mayBeFormula(first: number): boolean {
  // = + - @ tab CR
  return (
    first === 61 || first === 43 || first === 45 || first === 64 || first === 9 || first === 13
  );
}

/**
 * Compiles the bound fields into one function that says whether a row of the header's width is
 * clean: every cell valid or an allowed null, and none a spreadsheet formula. Cells are read in
 * place (see CsvRow).
 *
 * Generated, so that each field's check is called from a call site of its own, which V8 inlines;
 * a loop calling every field's check from one shared call site stays megamorphic, and that
 * dispatch cost more than the checks themselves. Only column numbers are written into the source:
 * checks and values are passed in.
 */
function compileRowScreen(
  bound: readonly BoundField[],
  width: number,
  missingValues: ReadonlySet<string> | undefined,
): RowScreen {
  const lines: string[] = [];
  // The first-character test of mayBeFormula, written out: a call per cell was not inlined.
  const formula =
    'if (s < e) { f = t.charCodeAt(s); if ((f === 61 || f === 43 || f === 45 || f === 64 || f === 9 || f === 13) && isFormula(t.slice(s, e))) return false; }';
  const isNull = missingValues === undefined ? 's === e' : 'missing.has(t.slice(s, e))';
  const cell = (column: number) =>
    `t = texts[${column}]; s = starts[${column}]; e = ends[${column}];`;
  bound.forEach((field, index) => {
    const onNull = field.required ? 'return false;' : '';
    lines.push(
      cell(field.column),
      `if (${isNull}) { ${onNull} } else if (!valid${index}(t, s, e)) return false;`,
      formula,
    );
  });
  const boundColumns = new Set(bound.map((field) => field.column));
  for (let column = 0; column < width; column++) {
    if (!boundColumns.has(column)) lines.push(cell(column), formula);
  }
  const valids = bound.map((_, index) => `valid${index}`);
  const factory = new Function(
    'isFormula',
    'missing',
    ...valids,
    `return function screen(texts, starts, ends) {\n let t; let s; let e; let f;\n${lines.join('\n')}\n return true;\n};`,
  ) as (...args: unknown[]) => RowScreen;
  return factory(isFormula, missingValues, ...bound.map((field) => field.valid));
}

/**
 * One validation run: receives the records from `readCsv`, checks them, splits them into the
 * two outputs and builds the report. Per-row work avoids allocating anything for a valid row.
 */
class CsvValidation implements CsvRecordSink {
  readonly report: CsvReport;
  private readonly maxErrors: number;
  private readonly missingValues: Set<string>;
  private readonly onlyEmptyIsNull: boolean;
  private readonly fields: readonly Field[];
  private readonly checks: CellCheck[];
  private readonly rangeChecks: RangeCheck[];
  private readonly keyNames: string[];
  private readonly uniqueNames: string[];
  private headerErrors = 0;
  private bound: BoundField[] = [];
  // Says whether a row of the header's width is clean (see compileRowScreen); set by bindHeader.
  private screen: RowScreen = () => false;
  private width = 0;
  private rowNumber = 1;
  private quote: (cell: string) => string = (cell) => cell;
  private terminator = '\n';
  private delimiter = ',';
  private readonly validOutput: Output;
  private readonly invalidOutput: Output;
  // The pending run of consecutive accepted records, copied with one slice instead of one per row.
  private runText = '';
  private runBytes: Uint8Array | undefined;
  private runStart = 0;
  private runEnd = 0;
  private readonly keyColumns: KeyColumn[] = [];
  private keyIndex: UniqueKeyIndex | undefined;
  private readonly uniqueColumns: UniqueColumn[] = [];

  constructor(
    private readonly schema: TableSchema | undefined,
    private readonly sinks: CsvSinks,
    private readonly options: ValidateOptions,
  ) {
    this.maxErrors = options.maxErrors ?? 100;
    this.validOutput = new Output(sinks.valid);
    this.invalidOutput = new Output(sinks.invalid);
    this.missingValues = new Set(schema?.missingValues ?? ['']);
    this.onlyEmptyIsNull = this.missingValues.size === 1 && this.missingValues.has('');
    this.fields = schema?.fields ?? [];
    // Compiled before reading, so a bad schema fails without consuming the input.
    this.checks = this.fields.map((field, index) => compileFieldCheck(field, `fields[${index}]`));
    this.rangeChecks = this.fields.map((field, index) =>
      compileRangeCheck(field, this.checks[index] as CellCheck),
    );
    this.keyNames = schema === undefined ? [] : primaryKeyFields(schema);
    // A unique field that is also the whole primary key is checked once, as the primary key.
    this.uniqueNames = this.fields
      .filter((field) => field.constraints?.unique === true)
      .map((field) => field.name)
      .filter((name) => !(this.keyNames.length === 1 && this.keyNames[0] === name));
    this.report = {
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
  }

  header(cells: string[], raw: string, dialect: ResolvedDialect): void {
    this.report.dialect = dialect;
    this.report.labels = cells;
    this.report.stats.fields = cells.length;
    this.width = cells.length;
    this.quote = quoteFor(dialect);
    this.terminator = dialect.lineTerminator;
    this.delimiter = dialect.delimiter;
    this.bindHeader(cells);
    if (this.sinks.valid !== undefined) {
      this.validOutput.push(raw.endsWith(this.terminator) ? raw : raw + this.terminator);
    }
    if (this.sinks.invalid !== undefined) {
      this.invalidOutput.push(this.line(['_row_number', '_errors', ...cells]));
    }
  }

  record(row: CsvRow): boolean {
    this.rowNumber++;
    this.report.stats.rows++;
    // Nearly every row is clean and is settled by the compiled screen, cell ranges read in
    // place; the others are cut into cells for the checks that say what is wrong.
    const clean =
      !row.malformedQuotes &&
      row.count === this.width &&
      !isBlank(row) &&
      this.screen(row.texts, row.starts, row.ends);
    const cells = clean ? undefined : row.cells();
    const formulas = cells !== undefined && this.screenFormulas(cells);
    const problems =
      cells === undefined ? this.keyProblems(row, undefined, undefined) : this.checkRow(row, cells);
    const { source: text, start, end } = row;
    if (problems === undefined) {
      if (this.sinks.valid === undefined) return true;
      // Only the file's last record can lack a terminator: it is the last one of its text.
      const unterminated = end === text.length && !text.endsWith(this.terminator);
      if (formulas || unterminated) {
        this.flushRun();
        this.validOutput.push(
          formulas
            ? this.line(neutralised(cells ?? row.cells()))
            : `${text.slice(start, end)}${this.terminator}`,
        );
      } else if (text === this.runText && start === this.runEnd) {
        this.runEnd = end;
      } else {
        this.flushRun();
        this.runText = text;
        this.runBytes = row.sourceBytes;
        this.runStart = start;
        this.runEnd = end;
      }
      return true;
    }
    this.flushRun();
    this.report.stats.invalidRows++;
    for (const problem of problems) this.addError(problem, this.rowNumber);
    if (this.sinks.invalid !== undefined) {
      const summary = problems
        .map((p) => (p.fieldName === null ? `${p.type}: ${p.note}` : `${p.fieldName}: ${p.note}`))
        .join('; ');
      const { delimiter, terminator } = this;
      // The row as written, like valid.csv, unless a cell needs neutralising or its quotes broke.
      let rest: string;
      if (formulas || row.malformedQuotes) rest = this.line(neutralised(cells ?? row.cells()));
      else {
        rest = text.slice(start, end);
        if (!rest.endsWith(terminator)) rest += terminator;
      }
      this.invalidOutput.push(
        `${this.rowNumber}${delimiter}${this.quote(summary)}${delimiter}${rest}`,
      );
    }
    return true;
  }

  async flush(all = false): Promise<void> {
    this.flushRun();
    await Promise.all([this.validOutput.write(all), this.invalidOutput.write(all)]);
  }

  /** Completes the report once the whole input has been read. */
  finish(bytes: number): CsvReport {
    const { report } = this;
    report.stats.bytes = bytes;
    const { rows, invalidRows } = report.stats;
    report.tolerance.invalidRowRatio = rows === 0 ? 0 : invalidRows / rows;
    report.valid =
      this.headerErrors === 0 &&
      report.tolerance.invalidRowRatio <= report.tolerance.invalidRowTolerance;
    return report;
  }

  /** Deletes the uniqueness state spilled to disk. */
  close(): void {
    this.keyIndex?.close();
    for (const unique of this.uniqueColumns) unique.index.close();
  }

  private line(cells: string[]): string {
    return cells.map(this.quote).join(this.delimiter) + this.terminator;
  }

  private flushRun(): void {
    if (this.runEnd > this.runStart) {
      // The input's own bytes when it is ASCII: no string to build and encode again.
      this.validOutput.push(
        this.runBytes?.subarray(this.runStart, this.runEnd) ??
          this.runText.slice(this.runStart, this.runEnd),
      );
    }
    this.runStart = 0;
    this.runEnd = 0;
  }

  private isNull(cell: string): boolean {
    return this.onlyEmptyIsNull ? cell === '' : this.missingValues.has(cell);
  }

  /** Whether cell `k` is present, valid and not null: only such cells make keys. */
  private isKeyCell(row: CsvRow, k: number, failed: Set<number> | undefined): boolean {
    if (k >= row.count || failed?.has(k) === true) return false;
    return this.onlyEmptyIsNull ? row.starts[k] !== row.ends[k] : !this.isNull(row.cell(k));
  }

  private addError(problem: RowProblem, rowNumber: number | null): void {
    const { report } = this;
    report.stats.errors++;
    report.errorCounts[problem.type] = (report.errorCounts[problem.type] ?? 0) + 1;
    if (report.errors.length >= this.maxErrors) {
      report.errorsTruncated = true;
      return;
    }
    report.errors.push({
      type: problem.type,
      rowNumber,
      fieldName: problem.fieldName,
      cell: problem.cell === null ? null : cut(problem.cell),
      message: describe(problem, rowNumber),
    });
  }

  private headerProblem(
    type: string,
    label: string | null,
    position: number | null,
    note: string,
  ): void {
    this.headerErrors++;
    this.addError({ type, fieldName: label, position, cell: label, note }, 1);
  }

  /** Flags (and counts) cells a spreadsheet would run; true when the row has any. */
  private screenFormulas(cells: string[]): boolean {
    let formulas = false;
    for (let i = 0; i < cells.length; i++) {
      const cell = cells[i] as string;
      if (!mayBeFormula(cell.charCodeAt(0)) || !isFormula(cell)) continue;
      formulas = true;
      this.report.formulaCells++;
      if (this.report.warnings.length >= this.maxErrors) continue;
      const problem: RowProblem = {
        type: 'formula-cell',
        fieldName: this.report.labels[i] ?? null,
        position: i + 1,
        cell,
        note: 'neutralised with a leading apostrophe in the outputs',
      };
      this.report.warnings.push({
        type: problem.type,
        rowNumber: this.rowNumber,
        fieldName: problem.fieldName,
        cell: cut(cell),
        message: describe(problem, this.rowNumber),
      });
    }
    return formulas;
  }

  /** Checks the header against the schema and binds each field to its column. */
  private bindHeader(labels: string[]): void {
    const seen = new Map<string, number>();
    labels.forEach((label, index) => {
      if (label.trim() === '')
        this.headerProblem('blank-label', null, index + 1, 'the label is blank');
      else if (seen.has(label)) {
        this.headerProblem(
          'duplicate-label',
          label,
          index + 1,
          `label "${label}" already at position ${seen.get(label)}`,
        );
      } else seen.set(label, index + 1);
    });
    const { schema, fields } = this;
    if (schema === undefined) {
      const noCheck: CellCheck = () => undefined;
      this.bound = labels.map((label, index) => ({
        name: label,
        column: index,
        position: index + 1,
        required: false,
        check: noCheck,
        valid: ALWAYS_VALID,
      }));
      this.screen = compileRowScreen(this.bound, this.width, undefined);
      return;
    }
    const mode = schema.fieldsMatch ?? 'exact';
    fields.forEach((field, index) => {
      const byName = labels.indexOf(field.name);
      const column = mode === 'exact' ? (index < labels.length ? index : -1) : byName;
      if (column < 0) {
        if (mode !== 'subset' && mode !== 'partial') {
          this.headerProblem(
            'missing-label',
            field.name,
            index + 1,
            `field "${field.name}" has no column`,
          );
        }
        return;
      }
      if (mode === 'exact' && labels[column] !== field.name) {
        this.headerProblem(
          'incorrect-label',
          field.name,
          column + 1,
          `label "${labels[column]}" should be "${field.name}"`,
        );
      }
      this.bound.push({
        name: field.name,
        column,
        position: column + 1,
        // Primary key fields are implicitly required, as in Frictionless.
        required: this.keyNames.includes(field.name) || field.constraints?.required === true,
        check: this.checks[index] as CellCheck,
        valid: this.rangeChecks[index] as RangeCheck,
      });
    });
    if (mode === 'partial' && this.bound.length === 0) {
      this.headerProblem('missing-label', null, null, 'no column matches a field of the schema');
    }
    if (mode === 'exact' || mode === 'equal' || mode === 'subset') {
      const names = new Set(fields.map((field) => field.name));
      labels.forEach((label, index) => {
        const extra = mode === 'exact' ? index >= fields.length : !names.has(label);
        if (extra)
          this.headerProblem(
            'extra-label',
            label,
            index + 1,
            `column "${label}" is not in the schema`,
          );
      });
    }
    const byName = new Map(this.bound.map((field) => [field.name, field]));
    for (const name of this.keyNames) {
      const field = byName.get(name);
      if (field !== undefined) this.keyColumns.push({ name, column: field.column });
    }
    this.screen = compileRowScreen(
      this.bound,
      this.width,
      this.onlyEmptyIsNull ? undefined : this.missingValues,
    );
    if (this.keyColumns.length > 0)
      this.keyIndex = new UniqueKeyIndex({ tmpDir: this.options.tmpDir });
    for (const name of this.uniqueNames) {
      const field = byName.get(name);
      if (field === undefined) continue;
      const index = new UniqueKeyIndex({ tmpDir: this.options.tmpDir, memoryKeys: 1 << 18 });
      this.uniqueColumns.push({ name, column: field.column, position: field.position, index });
    }
  }

  /** The detailed checks of a row the screen did not settle: every problem, in report order. */
  private checkRow(row: CsvRow, cells: string[]): RowProblem[] | undefined {
    const width = this.width;
    let problems: RowProblem[] | undefined;
    if (row.malformedQuotes) {
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
    if (isBlank(row)) {
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
    const bound = this.bound;
    for (let i = 0; i < bound.length; i++) {
      const field = bound[i] as BoundField;
      const cell = cells[field.column];
      let problem: RowProblem;
      if (cell === undefined) {
        problem = {
          type: 'missing-cell',
          fieldName: field.name,
          position: field.position,
          cell: null,
          note: `the row has ${cells.length} cells, the header ${width}`,
        };
      } else if (this.isNull(cell)) {
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
    return this.keyProblems(row, failed, problems);
  }

  /** Adds the row's keys to the uniqueness indexes; null and ill-typed (`failed`) cells take no part. */
  private keyProblems(
    row: CsvRow,
    failed: Set<number> | undefined,
    problems: RowProblem[] | undefined,
  ): RowProblem[] | undefined {
    for (let i = 0; i < this.uniqueColumns.length; i++) {
      const unique = this.uniqueColumns[i] as UniqueColumn;
      const k = unique.column;
      if (!this.isKeyCell(row, k, failed)) continue;
      if (!unique.index.add(row.texts[k] as string, row.starts[k], row.ends[k])) {
        const cell = row.cell(k);
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
    const { keyIndex, keyColumns } = this;
    if (keyIndex === undefined) return problems;
    let usable = true;
    for (let i = 0; i < keyColumns.length; i++) {
      if (!this.isKeyCell(row, (keyColumns[i] as KeyColumn).column, failed)) usable = false;
    }
    if (!usable) return problems;
    let isNew: boolean;
    if (keyColumns.length === 1) {
      const k = (keyColumns[0] as KeyColumn).column;
      isNew = keyIndex.add(row.texts[k] as string, row.starts[k], row.ends[k]);
    } else isNew = keyIndex.add(keyColumns.map((column) => row.cell(column.column)).join('\u001f'));
    if (!isNew) {
      const shown = cut(keyColumns.map((column) => row.cell(column.column)).join(','));
      problems ??= [];
      problems.push({
        type: 'primary-key',
        fieldName: keyColumns.map((k) => k.name).join(','),
        position: null,
        cell: shown,
        note: `the key "${shown}" already appears in an earlier row`,
      });
    }
    return problems;
  }
}

/**
 * Validates a CSV file against a Frictionless Table Schema in one streaming pass.
 *
 * Streams `input` (bytes) once; writes accepted rows to `sinks.valid` and rejected rows, with
 * error columns, to `sinks.invalid`, respecting backpressure; calls `end()` on each sink when done
 * (the caller awaits 'finish' or upload completion itself). Without a schema only the structure
 * is checked (encoding, header labels, field counts, blank rows) and every column is a string.
 *
 * Row problems are report entries. Whole-file problems throw, after destroying both sinks (with
 * no error, so nothing is emitted unhandled) so a half-written output is never taken as complete.
 * @throws InvalidCsvEncoding, CsvFieldTooLarge, CsvRowTooLarge, EmptyCsv (all `CsvError`, an `InputError`)
 * @throws InvalidTableSchema when a schema bound, enum member or date format does not fit its type
 */
export async function validateCsv(
  input: Readable,
  schema: TableSchema | undefined,
  sinks: CsvSinks,
  options: ValidateOptions = {},
): Promise<CsvReport> {
  const validation = new CsvValidation(schema, sinks, options);
  let bytes: number;
  try {
    ({ bytes } = await readCsv(input, validation, {
      dialect: schema?.dialect,
      maxFieldBytes: options.maxFieldBytes,
      maxRowBytes: options.maxRowBytes,
    }));
    await validation.flush(true);
  } catch (error) {
    sinks.valid?.destroy();
    sinks.invalid?.destroy();
    throw error;
  } finally {
    validation.close();
  }
  sinks.valid?.end();
  sinks.invalid?.end();
  return validation.finish(bytes);
}
