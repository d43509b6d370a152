// One measurement of bench/csv.ts, run in a fresh process so its peak RSS is its own.
// Usage: node csv-child.mjs floor|validate <csv> <schema.json> <outDir>
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import Papa from 'papaparse';
import { parseTableSchema } from '#commons/csv/index.ts';
import { validateFile } from '../cli/commands/validate.ts';

const [mode, csv, schemaPath, outDir] = process.argv.slice(2) as [string, string, string, string];

async function floor(): Promise<{ rows: number }> {
  let rows = 0;
  await new Promise<void>((resolve, reject) => {
    Papa.parse(createReadStream(csv) as unknown as File, {
      chunk: (result: Papa.ParseResult<string[]>) => {
        rows += result.data.length;
      },
      complete: () => resolve(),
      error: reject,
    });
  });
  return { rows: rows - 1 };
}

// Exactly what `sluice validate --schema S --out DIR` runs after parsing its arguments.
async function validate(): Promise<{ rows: number; invalidRows: number; valid: boolean }> {
  const schema = parseTableSchema(JSON.parse(await readFile(schemaPath, 'utf8')));
  const report = await validateFile(csv, schema, outDir);
  return { rows: report.stats.rows, invalidRows: report.stats.invalidRows, valid: report.valid };
}

const cpu = process.cpuUsage();
const start = performance.now();
const result = mode === 'floor' ? await floor() : await validate();
const wallMs = performance.now() - start;
const used = process.cpuUsage(cpu);
process.stdout.write(
  JSON.stringify({
    ...result,
    wallMs,
    cpuMs: (used.user + used.system) / 1000,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
  }),
);
