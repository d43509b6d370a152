import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

/**
 * The orchestration benches' data set: half CSVs of 20 rows, half PNGs of 64×48, each distinct
 * so that none is a duplicate of another. Returns the relative paths, `<dataset>/<file>`.
 */
export async function writeSmallFiles(dir: string, count: number): Promise<string[]> {
  const png = await sharp({
    create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 90, b: 40 } },
  })
    .png()
    .toBuffer();
  mkdirSync(join(dir, 'photos'), { recursive: true });
  mkdirSync(join(dir, 'tables'), { recursive: true });
  const paths: string[] = [];
  for (let i = 0; i < count; i++) {
    const path = i % 2 === 0 ? `photos/p${i}.png` : `tables/t${i}.csv`;
    const rows = Array.from({ length: 20 }, (_, row) => `${row},row ${i}-${row}`);
    const data =
      i % 2 === 0
        ? Buffer.concat([png, Buffer.from(String(i))])
        : Buffer.from(`id,name\n${rows.join('\n')}\n`);
    writeFileSync(join(dir, path), data);
    paths.push(path);
  }
  return paths;
}
