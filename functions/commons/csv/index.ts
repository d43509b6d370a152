/**
 * The CSV validation engine: Frictionless Table Schema checks, streaming, split outputs,
 * profiling and schema inference. Pure domain code: no AWS, streams in and out.
 */
export type { CsvReport, CsvReportError, CsvSummary } from './csv-report.ts';
export { summarizeCsvReport } from './csv-report.ts';
export {
  CsvError,
  CsvFieldTooLarge,
  CsvRowTooLarge,
  EmptyCsv,
  InvalidCsvEncoding,
  InvalidTableSchema,
} from './errors.ts';
export { inferSchema } from './infer-schema.ts';
export type { CsvProfile } from './profile-csv.ts';
export { profileCsv } from './profile-csv.ts';
export type { ResolvedDialect } from './read-csv.ts';
export type {
  CsvDialect,
  Field,
  FieldConstraints,
  FieldsMatch,
  FieldType,
  TableSchema,
} from './table-schema.ts';
export { parseTableSchema } from './table-schema.ts';
export type { CsvSinks, ValidateOptions } from './validate-csv.ts';
export { validateCsv } from './validate-csv.ts';
