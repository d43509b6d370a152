import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const SLUICE = join(import.meta.dirname, '../../cli/sluice.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function sluice(...args: string[]): Promise<Run> {
  try {
    const { stdout, stderr } = await promisify(execFile)('node', [SLUICE, ...args]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('sluice resize', () => {
  let work: string;
  beforeEach(async () => {
    work = await mkdtemp(join(tmpdir(), 'sluice-resize-'));
  });
  afterEach(async () => {
    await rm(work, { recursive: true, force: true });
  });

  async function landscape(width: number, height: number): Promise<Buffer> {
    return sharp({ create: { width, height, channels: 3, background: '#4080c0' } })
      .jpeg()
      .toBuffer();
  }

  it('processes a directory, reports each file as JSON and exits 1 when one fails', async () => {
    // Prepare
    const photos = join(work, 'photos');
    await mkdir(photos);
    await writeFile(join(photos, 'wide.jpg'), await landscape(2000, 1000));
    await writeFile(join(photos, 'broken.jpg'), (await landscape(400, 300)).subarray(0, 300));
    await writeFile(join(photos, 'notes.txt'), 'not an image');
    const out = join(work, 'out');

    // Act
    const run = await sluice('resize', photos, '--out', out, '--json');

    // Assess
    expect(run.code).toBe(1);
    const reports = JSON.parse(run.stdout);
    expect(reports.map((r: { file: string; status: string }) => [r.file, r.status])).toEqual([
      [join(photos, 'broken.jpg'), 'error'],
      [join(photos, 'notes.txt'), 'error'],
      [join(photos, 'wide.jpg'), 'ok'],
    ]);
    expect(reports[0]).toMatchObject({
      source: null,
      variants: [],
      error: { name: 'CorruptImage' },
    });
    expect(reports[1].error.name).toBe('UnsupportedImageFormat');
    expect(reports[2]).toEqual({
      file: join(photos, 'wide.jpg'),
      status: 'ok',
      source: { width: 2000, height: 1000, format: 'jpeg' },
      variants: [
        {
          path: join(out, 'wide', 'large.jpg'),
          width: 1600,
          height: 800,
          format: 'jpeg',
          bytes: expect.any(Number),
        },
        {
          path: join(out, 'wide', 'medium.jpg'),
          width: 800,
          height: 400,
          format: 'jpeg',
          bytes: expect.any(Number),
        },
        {
          path: join(out, 'wide', 'small.jpg'),
          width: 200,
          height: 100,
          format: 'jpeg',
          bytes: expect.any(Number),
        },
      ],
      error: null,
    });
    const written = await sharp(await readFile(join(out, 'wide', 'medium.jpg'))).metadata();
    expect(written).toMatchObject({ format: 'jpeg', width: 800, height: 400 });
    expect(run.stderr).toContain('[3/3]');
  });

  it('uses a variants file and prints one human line per file', async () => {
    // Prepare
    const image = join(work, 'tall.png');
    await writeFile(
      image,
      await sharp(await landscape(300, 600))
        .png()
        .toBuffer(),
    );
    const spec = join(work, 'spec.json');
    await writeFile(
      spec,
      JSON.stringify({
        variants: [{ name: 'thumb', size: 100, format: ['webp', 'avif'], fit: 'cover' }],
      }),
    );
    const out = join(work, 'out');

    // Act
    const run = await sluice('resize', image, '--out', out, '--variants', spec);

    // Assess
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('300×600 png → thumb.webp 100×100');
    expect(run.stdout).toContain('1 ok, 0 failed');
    expect(await sharp(await readFile(join(out, 'tall', 'thumb.avif'))).metadata()).toMatchObject({
      format: 'heif',
      width: 100,
      height: 100,
    });
  });

  it('exits 2 naming the bad value in a variants file', async () => {
    // Prepare
    const image = join(work, 'a.jpg');
    await writeFile(image, await landscape(40, 30));
    const spec = join(work, 'spec.json');
    await writeFile(spec, JSON.stringify({ variants: [{ name: 'x', size: 100, format: 'bmp' }] }));

    // Act
    const run = await sluice('resize', image, '--out', join(work, 'out'), '--variants', spec);

    // Assess
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/variants\[0\]\.format .* got "bmp"/);
  });

  it('exits 2 without --out', async () => {
    // Prepare
    const image = join(work, 'a.jpg');
    await writeFile(image, await landscape(40, 30));

    // Act
    const run = await sluice('resize', image);

    // Assess
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--out');
  });

  it('exits 2 when the input does not exist', async () => {
    // Prepare
    const missing = join(work, 'missing.jpg');

    // Act
    const run = await sluice('resize', missing, '--out', join(work, 'out'));

    // Assess
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`cannot read ${missing}`);
  });

  it('explains the variants file and the exit codes in --help', async () => {
    // Prepare
    const args = ['resize', '--help'];

    // Act
    const run = await sluice(...args);

    // Assess
    expect(run.code).toBe(0);
    for (const topic of [
      '--variants <spec.json>',
      '"variants": [',
      'fit',
      'Exit codes:',
      '2  usage',
    ]) {
      expect(run.stdout).toContain(topic);
    }
  });
});
