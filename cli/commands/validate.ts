import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { finished } from 'node:stream/promises';
import { Command } from 'commander';
import {
  CsvError,
  type CsvReport,
  parseTableSchema,
  type TableSchema,
  validateCsv,
} from '#commons/csv/index.ts';
import { ConfigurationError } from '#commons/errors.ts';
import { EXIT_USAGE } from '../exit-codes.ts';

/** `data/orders.csv` → `data/orders.sluice/`: next to the input, ignored by git like `.sluice/`. */
export function defaultOutDir(csv: string): string {
  return join(dirname(csv), `${basename(csv, extname(csv))}.sluice`);
}

/** A problem with the command line or the files it names, rather than with the CSV data. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * Reports usage, configuration and IO errors (exit 2) on stderr; anything else is a bug and
 * propagates to `main`.
 */
export function exitOnUsageError(error: unknown): void {
  const io = error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string';
  if (!(error instanceof UsageError || error instanceof ConfigurationError || io)) throw error;
  process.stderr.write(`sluice: ${(error as Error).message}\n`);
  process.exitCode = EXIT_USAGE;
}

/** Reads and checks a schema file; IO and JSON problems say which file is at fault. */
export async function readSchemaFile(path: string): Promise<TableSchema> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read schema ${path}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`schema ${path} is not valid JSON: ${(error as Error).message}`);
  }
  return parseTableSchema(json);
}

/** Fails with a usage error (exit 2) unless `path` is a readable regular file. */
export async function assertReadableFile(path: string): Promise<void> {
  const info = await stat(path).catch(() => undefined);
  if (info === undefined) throw new UsageError(`no such file: ${path}`);
  if (!info.isFile()) throw new UsageError(`not a file: ${path}`);
}

/** A report for a file rejected as a whole (bad encoding, oversized row), so report.json always exists. */
function rejectedReport(error: CsvError): CsvReport {
  return {
    valid: false,
    stats: { rows: 0, fields: 0, invalidRows: 0, errors: 1, bytes: 0 },
    errors: [
      { type: error.name, rowNumber: null, fieldName: null, cell: null, message: error.message },
    ],
    errorsTruncated: false,
    errorCounts: { [error.name]: 1 },
    formulaCells: 0,
    warnings: [],
    tolerance: { invalidRowTolerance: 0, invalidRowRatio: 0 },
    dialect: { delimiter: ',', quoteChar: '"', lineTerminator: '\n' },
    labels: [],
  };
}

function summary(csv: string, report: CsvReport, outDir: string): string {
  const { rows, invalidRows, errors } = report.stats;
  const percent = rows === 0 ? '0' : ((100 * invalidRows) / rows).toFixed(2);
  const lines = [
    `${csv}: ${report.valid ? 'ACCEPTED' : 'REJECTED'} — ${rows} rows, ${invalidRows} invalid (${percent}%), ${errors} errors`,
  ];
  if (report.tolerance.invalidRowTolerance > 0) {
    lines.push(
      `  tolerance: up to ${(100 * report.tolerance.invalidRowTolerance).toFixed(2)}% invalid rows`,
    );
  }
  for (const error of report.errors.slice(0, 10)) lines.push(`  ${error.message}`);
  if (errors > 10) lines.push(`  … and ${errors - 10} more (see report.json)`);
  if (report.formulaCells > 0) {
    lines.push(
      `  ${report.formulaCells} cells looked like spreadsheet formulas and were neutralised`,
    );
  }
  lines.push(`Outputs: ${join(outDir, 'report.json')}, valid.csv, invalid.csv`);
  return `${lines.join('\n')}\n`;
}

/** `sluice validate`: the validation engine on a local file, writing the same three outputs as the pipeline. */
export function validateCommand(): Command {
  return new Command('validate')
    .description(
      'Validate a CSV file against a Frictionless Table Schema and split it into accepted and\n' +
        'rejected rows. Without --schema only the structure is checked (UTF-8 encoding, header\n' +
        'labels, the same number of fields on every row, blank rows) and every column is a string.',
    )
    .argument('<csv>', 'the CSV file to validate (UTF-8; delimiter and line endings are detected)')
    .option('--schema <file>', 'Table Schema JSON file, as dropped into the bucket under schemas/')
    .option(
      '--out <dir>',
      'where to write the outputs (default: <csv without extension>.sluice/ next to the file)',
    )
    .option('--json', 'print the report (the same object as report.json) instead of a summary')
    .addHelpText(
      'after',
      '\nOutputs, in the --out directory:\n' +
        '  report.json  valid, stats (rows, fields, invalidRows, errors, bytes), the first 100 errors\n' +
        '               (type, rowNumber, fieldName, cell, message), errorCounts, formula warnings\n' +
        '  valid.csv    the header and the accepted rows exactly as they came (BOM dropped; cells\n' +
        "               starting with = + - @ that are not numbers get a leading ')\n" +
        '  invalid.csv  _row_number,_errors, then the header, and each rejected row as it came\n' +
        '\nThe file is accepted when the header matches and no row is invalid, or when the share of\n' +
        'invalid rows is within the schema\'s "invalidRowTolerance" (e.g. 0.01 for 1%).\n' +
        '\nExit codes: 0 the file is accepted;\n' +
        '            1 the file is rejected: invalid rows beyond the tolerance, header errors, or the\n' +
        '              file as a whole is unusable (not UTF-8, empty, an oversized field or row);\n' +
        '              report.json then holds the reason;\n' +
        '            2 usage or IO errors: missing or unreadable file, invalid schema, bad options.',
    )
    .action((csv: string, options: ValidateCliOptions) =>
      runValidate(csv, options).catch(exitOnUsageError),
    );
}

interface ValidateCliOptions {
  readonly schema?: string;
  readonly out?: string;
  readonly json?: boolean;
}

async function runValidate(csv: string, options: ValidateCliOptions): Promise<void> {
  await assertReadableFile(csv);
  const schema = options.schema === undefined ? undefined : await readSchemaFile(options.schema);
  const outDir = options.out ?? defaultOutDir(csv);
  const report = await validateFile(csv, schema, outDir);
  process.stdout.write(
    options.json ? `${JSON.stringify(report, null, 2)}\n` : summary(csv, report, outDir),
  );
  process.exitCode = report.valid ? 0 : 1;
}

// At the 64 KiB default, stream and read round trips cost ~70 ms per 70 MB file.
const READ_BYTES = 1 << 20;

/**
 * Validates the file `csv` and writes report.json, valid.csv and invalid.csv into `outDir`: the
 * work of `sluice validate`, which bench/csv.ts times.
 */
export async function validateFile(
  csv: string,
  schema: TableSchema | undefined,
  outDir: string,
): Promise<CsvReport> {
  await mkdir(outDir, { recursive: true });
  const paths = {
    report: join(outDir, 'report.json'),
    valid: join(outDir, 'valid.csv'),
    invalid: join(outDir, 'invalid.csv'),
  };
  const valid = createWriteStream(paths.valid);
  const invalid = createWriteStream(paths.invalid);
  let report: CsvReport;
  try {
    const input = createReadStream(csv, { highWaterMark: READ_BYTES });
    report = await validateCsv(input, schema, { valid, invalid });
    await Promise.all([finished(valid), finished(invalid)]);
  } catch (error) {
    if (!(error instanceof CsvError)) throw error;
    // Partial split outputs of an unusable file would mislead: keep only the report.
    await Promise.all([rm(paths.valid, { force: true }), rm(paths.invalid, { force: true })]);
    report = rejectedReport(error);
  }
  await writeFile(paths.report, `${JSON.stringify(report, null, 2)}\n`);
  return report;
}
