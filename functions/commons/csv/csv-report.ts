import type { ResolvedDialect } from './read-csv.ts';

/** One problem found in the file, shaped like a Frictionless report error. */
export interface CsvReportError {
  /** Frictionless error type: `type-error`, `constraint-error`, `unique-error`, `primary-key`, `blank-row`, `extra-cell`, `missing-cell`, `source-error`, `blank-label`, `duplicate-label`, `incorrect-label`, `missing-label`, `extra-label`; or the warning `formula-cell`. */
  type: string;
  /** 1-based record number, the header being row 1 (as in Frictionless); null for file-level errors. */
  rowNumber: number | null;
  fieldName: string | null;
  /** The offending cell, cut to 200 characters. */
  cell: string | null;
  message: string;
}

/** The outcome of `validateCsv`, written as `report.json` next to the upload. */
export interface CsvReport {
  /** The file is accepted: no header error and invalid rows within the schema's `invalidRowTolerance`. */
  valid: boolean;
  stats: {
    /** Data rows, header excluded. */
    rows: number;
    /** Columns in the header. */
    fields: number;
    invalidRows: number;
    /** All errors found, including those left out of `errors`. */
    errors: number;
    bytes: number;
  };
  /** The first `maxErrors` errors, in file order. */
  errors: CsvReportError[];
  errorsTruncated: boolean;
  /** Error counts by type, complete even when `errors` is truncated. */
  errorCounts: Record<string, number>;
  /** Cells that a spreadsheet would run as a formula; neutralised with a leading `'` in the outputs. */
  formulaCells: number;
  /** The first `maxErrors` formula cells, as `formula-cell` warnings. They do not reject the file. */
  warnings: CsvReportError[];
  tolerance: { invalidRowTolerance: number; invalidRowRatio: number };
  dialect: ResolvedDialect;
  /** The header labels as read. */
  labels: string[];
}

/** The counts of a report, small enough for a Step Functions state payload. */
export interface CsvSummary {
  accepted: boolean;
  rows: number;
  invalidRows: number;
  errors: number;
  bytes: number;
  fields: number;
}

/** Reduces a report to its counts (no rows, no messages) for the state payload. */
export function summarizeCsvReport(report: CsvReport): CsvSummary {
  return {
    accepted: report.valid,
    rows: report.stats.rows,
    invalidRows: report.stats.invalidRows,
    errors: report.stats.errors,
    bytes: report.stats.bytes,
    fields: report.stats.fields,
  };
}
