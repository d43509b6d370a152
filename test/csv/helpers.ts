import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import {
  type CsvReport,
  parseTableSchema,
  type TableSchema,
  type ValidateOptions,
  validateCsv,
} from '#commons/csv/index.ts';

export const FIXTURES = join(import.meta.dirname, '../fixtures/csv');

/** Collects everything written to a sink as UTF-8 text. */
export function textSink(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

/** A byte stream of `csv`, optionally cut into chunks of `chunkBytes` to exercise boundaries. */
export function bytes(csv: string | Buffer, chunkBytes?: number): Readable {
  const buffer = typeof csv === 'string' ? Buffer.from(csv, 'utf8') : csv;
  if (chunkBytes === undefined) return Readable.from([buffer]);
  const chunks: Buffer[] = [];
  for (let i = 0; i < buffer.length; i += chunkBytes)
    chunks.push(buffer.subarray(i, i + chunkBytes));
  return Readable.from(chunks);
}

export function fixture(name: string): Readable {
  return createReadStream(join(FIXTURES, name));
}

export interface Validated {
  report: CsvReport;
  valid: string;
  invalid: string;
}

/** Runs the engine on `input` with both sinks and returns the report and both outputs as text. */
export async function validate(
  input: string | Buffer | Readable,
  schema?: unknown,
  options?: ValidateOptions,
): Promise<Validated> {
  const valid = textSink();
  const invalid = textSink();
  const stream = input instanceof Readable ? input : bytes(input);
  const parsed: TableSchema | undefined =
    schema === undefined ? undefined : parseTableSchema(schema);
  const report = await validateCsv(
    stream,
    parsed,
    { valid: valid.stream, invalid: invalid.stream },
    options,
  );
  return { report, valid: valid.text(), invalid: invalid.text() };
}

/** A one-field schema, for type and constraint tests. */
export function oneField(
  field: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): unknown {
  return { fields: [{ name: 'value', ...field }], ...extra };
}

/** The [type, rowNumber, fieldName] triples of a report's errors, for compact comparisons. */
export function errorsOf(report: CsvReport): [string, number | null, string | null][] {
  return report.errors.map((error) => [error.type, error.rowNumber, error.fieldName]);
}
