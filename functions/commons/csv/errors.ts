import { ConfigurationError, InputError } from '#commons/errors.ts';

/**
 * The CSV file as a whole cannot be validated (not a per-row problem: those go in the report).
 * It extends `InputError`, so the pipeline quarantines the file instead of retrying.
 */
export class CsvError extends InputError {
  override name = 'CsvError';
}

/** The bytes are not valid UTF-8; decoding anyway would write mojibake into the outputs. */
export class InvalidCsvEncoding extends CsvError {
  override name = 'InvalidCsvEncoding';
}

/** A single field is larger than `maxFieldBytes`, the bound that protects the function's memory. */
export class CsvFieldTooLarge extends CsvError {
  override name = 'CsvFieldTooLarge';
}

/**
 * A single record is larger than `maxRowBytes`, typically an unterminated quote that swallows
 * the rest of the file.
 */
export class CsvRowTooLarge extends CsvError {
  override name = 'CsvRowTooLarge';
}

/** The file has no header row (zero bytes, only a BOM, or only blank lines). */
export class EmptyCsv extends CsvError {
  override name = 'EmptyCsv';
}

/** The Table Schema JSON is malformed; the message names the offending property and value. */
export class InvalidTableSchema extends ConfigurationError {
  override name = 'InvalidTableSchema';
}
