import { createReadStream } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { CsvError, inferSchema } from '#commons/csv/index.ts';
import { assertReadableFile, exitOnUsageError } from './validate.ts';

function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1)
    throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return parsed;
}

/** `sluice infer`: prints a Table Schema inferred from the start of a local CSV file. */
export function inferCommand(): Command {
  return new Command('infer')
    .description(
      'Infer a Frictionless Table Schema from the first rows of a CSV file and print it as ' +
        'JSON: a starting point to edit (constraints, primaryKey, invalidRowTolerance) and ' +
        'save as sample-data/schemas/<dataset>.json or upload under schemas/ in the bucket.',
    )
    .argument('<csv>', 'the CSV file to sample (UTF-8; delimiter and line endings are detected)')
    .option('--sample-rows <n>', 'how many data rows to read', positiveInteger, 1000)
    .addHelpText(
      'after',
      '\nEach column gets the narrowest type that parses every non-empty sampled cell, in this\n' +
        'order: integer, number, boolean, date, datetime, time, string (format uuid, email or uri\n' +
        'when every cell fits), or any when the sample has only empty cells.\n' +
        '\nExit codes: 0 the schema was printed;\n' +
        '            1 the file is unusable (not UTF-8, empty, an oversized field or row);\n' +
        '            2 usage or IO errors (missing file, bad --sample-rows).',
    )
    .action((csv: string, options: { sampleRows: number }) =>
      runInfer(csv, options.sampleRows).catch(exitOnUsageError),
    );
}

async function runInfer(csv: string, sampleRows: number): Promise<void> {
  await assertReadableFile(csv);
  try {
    const schema = await inferSchema(createReadStream(csv), { sampleRows });
    process.stdout.write(`${JSON.stringify(schema, null, 2)}\n`);
    process.exitCode = 0;
  } catch (error) {
    if (!(error instanceof CsvError)) throw error;
    process.stderr.write(`sluice: ${error.name}: ${error.message}\n`);
    process.exitCode = 1;
  }
}
