import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

export interface SmallFilesOptions {
  /**
   * This share of the CSVs (spread evenly, e.g. 0.02 for every 50th) get non-integer ids in half
   * their rows, and `schemas/tables.json` types `id` as an integer, so that those CSVs are
   * rejected (QUARANTINED, CsvRejected) and the others pass.
   * @default 0 - every CSV is valid, and there is no schema
   */
  readonly invalidCsvShare?: number;
}

/** The `tables` dataset's Table Schema when some CSVs are invalid: `id` an integer. */
const TABLES_SCHEMA = {
  fields: [
    { name: 'id', type: 'integer', constraints: { required: true } },
    { name: 'name', type: 'string' },
  ],
};

/**
 * The orchestration benches' data set: half CSVs of 20 rows, half PNGs of 64×48, each distinct
 * so that none is a duplicate of another. Returns the relative paths, `<dataset>/<file>`; the
 * schema, when there is one, is not among them.
 */
export async function writeSmallFiles(
  dir: string,
  count: number,
  options: SmallFilesOptions = {},
): Promise<string[]> {
  const png = await sharp({
    create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 90, b: 40 } },
  })
    .png()
    .toBuffer();
  mkdirSync(join(dir, 'photos'), { recursive: true });
  mkdirSync(join(dir, 'tables'), { recursive: true });
  const share = options.invalidCsvShare ?? 0;
  const every = share > 0 ? Math.max(1, Math.round(1 / share)) : 0;
  if (every > 0) {
    mkdirSync(join(dir, 'schemas'), { recursive: true });
    writeFileSync(join(dir, 'schemas', 'tables.json'), `${JSON.stringify(TABLES_SCHEMA)}\n`);
  }
  const paths: string[] = [];
  for (let i = 0; i < count; i++) {
    const path = i % 2 === 0 ? `photos/p${i}.png` : `tables/t${i}.csv`;
    // The CSVs are the odd files: every `every`-th of them is invalid.
    const invalid = every > 0 && ((i + 1) / 2) % every === 0;
    const rows = Array.from(
      { length: 20 },
      (_, row) => `${invalid && row % 2 === 1 ? `x${row}` : row},row ${i}-${row}`,
    );
    const data =
      i % 2 === 0
        ? Buffer.concat([png, Buffer.from(String(i))])
        : Buffer.from(`id,name\n${rows.join('\n')}\n`);
    writeFileSync(join(dir, path), data);
    paths.push(path);
  }
  return paths;
}
