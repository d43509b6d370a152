/**
 * Image benchmark: `npx tsx bench/image.ts`.
 *
 * Times, in one run, on 20 photographic 12 MP JPEGs with the default variants (JPEG 1600/800/200,
 * q82, metadata stripped) and both cores busy on each side:
 *   (1) libvips' `vipsthumbnail` making only the 1600 px variant (the reference);
 *   (2) `vipsthumbnail` once per variant per image, for context;
 *   (3) `sluice resize` on the directory: all three variants, orientation, colour and metadata
 *       handling on, process start-up included.
 * Target: (3)/(1) ≤ 1.0. It also reports the peak RSS of one 50 MP image, measured in a child
 * process (target ≤ 300 MB).
 *
 * Inputs are generated into bench/.work/image/ (git-ignored) from sample-data/photos/dev-board.jpg,
 * upscaled, with film grain so they compress like camera output, and with camera-like EXIF; every
 * fourth one is stored sideways with EXIF orientation 6, as phones do.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { DEFAULT_IMAGE_CONFIG, resizeImage } from '#commons/image/index.ts';

const ROOT = join(import.meta.dirname, '..');
const WORK = join(ROOT, 'bench', '.work', 'image');
const PHOTOS = join(WORK, 'photos-12mp');
const BIG_PHOTO = join(WORK, 'photo-50mp.jpg');
const SOURCE_PHOTO = join(ROOT, 'sample-data', 'photos', 'dev-board.jpg');
// Bump when the recipe below changes, so stale inputs are regenerated.
const RECIPE = 'v1: 4240x2832 q90 grain sigma 12, every 4th orientation 6';
const COUNT = 20;
const ROUNDS = 5;
const CORES = availableParallelism();
const SIZES = DEFAULT_IMAGE_CONFIG.variants.map((variant) => variant.size);
const LARGEST = Math.max(...SIZES);
const RATIO_TARGET = 1.0;
const RSS_TARGET_MB = 300;

const run = promisify(execFile);

async function photographic(width: number, height: number, seed: number): Promise<Buffer> {
  const grain = await sharp({
    create: {
      width,
      height,
      channels: 3,
      background: '#000000',
      noise: { type: 'gaussian', mean: 128, sigma: 12 },
    },
  })
    .raw()
    .toBuffer();
  return sharp(SOURCE_PHOTO)
    .modulate({ brightness: 0.9 + (seed % 5) * 0.05, hue: seed * 17 })
    .resize(width, height, { fit: 'fill', kernel: 'lanczos3' })
    .composite([{ input: grain, raw: { width, height, channels: 3 }, blend: 'overlay' }])
    .png({ compressionLevel: 0 })
    .toBuffer();
}

async function cameraJpeg(pixels: Buffer, sideways: boolean): Promise<Buffer> {
  const stored = sideways
    ? sharp(await sharp(pixels).rotate(270).png({ compressionLevel: 0 }).toBuffer())
    : sharp(pixels);
  return stored
    .withExif({ IFD0: { Make: 'sluice', Model: 'bench camera', Software: 'bench/image.ts' } })
    .withMetadata({ orientation: sideways ? 6 : 1 })
    .jpeg({ quality: 90 })
    .toBuffer();
}

async function prepareInputs(): Promise<string[]> {
  const marker = join(WORK, 'recipe.txt');
  const fresh = existsSync(marker) && (await readFile(marker, 'utf8')) === RECIPE;
  if (!fresh) {
    await rm(WORK, { recursive: true, force: true });
    await mkdir(PHOTOS, { recursive: true });
    process.stderr.write(`generating ${COUNT} × 12 MP and one 50 MP JPEG in ${WORK} …\n`);
    const indexes = Array.from({ length: COUNT }, (_, index) => index);
    for (let start = 0; start < COUNT; start += CORES) {
      await Promise.all(
        indexes.slice(start, start + CORES).map(async (index) => {
          const pixels = await photographic(4240, 2832, index);
          const name = `photo-${String(index + 1).padStart(2, '0')}.jpg`;
          await writeFile(join(PHOTOS, name), await cameraJpeg(pixels, index % 4 === 3));
        }),
      );
    }
    await writeFile(BIG_PHOTO, await cameraJpeg(await photographic(8660, 5774, 99), false));
    await writeFile(marker, RECIPE);
  }
  return (await readdir(PHOTOS))
    .filter((name) => name.endsWith('.jpg'))
    .map((name) => join(PHOTOS, name));
}

function findVipsthumbnail(): string | undefined {
  const which = (): string | undefined => {
    try {
      return execFileSync('which', ['vipsthumbnail'], { encoding: 'utf8' }).trim() || undefined;
    } catch {
      return undefined;
    }
  };
  const found = which();
  if (found || process.getuid?.() !== 0) return found;
  process.stderr.write('vipsthumbnail not found; installing libvips-tools with apt-get …\n');
  try {
    execFileSync('sh', ['-c', 'apt-get update -qq && apt-get install -y -qq libvips-tools'], {
      stdio: 'ignore',
    });
  } catch {
    return undefined;
  }
  return which();
}

/** Splits `items` into `parts` interleaved slices, one per core. */
function split<T>(items: readonly T[], parts: number): T[][] {
  return Array.from({ length: parts }, (_, part) =>
    items.filter((_, index) => index % parts === part),
  );
}

/**
 * CPU seconds used so far by this process and every child it has waited for (Linux
 * /proc/self/stat: utime, stime, cutime, cstime). Unlike wall time, it barely moves when other
 * work shares the machine, so it keeps the comparison honest on a busy host.
 */
async function cpuSeconds(): Promise<number> {
  const stat = await readFile('/proc/self/stat', 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command name, utime is the 12th field; clock ticks are 1/100 s on Linux.
  const ticks = [11, 12, 13, 14].reduce((sum, index) => sum + Number(fields[index] ?? 0), 0);
  return ticks / 100;
}

async function timed(task: () => Promise<unknown>): Promise<{ wall: number; cpu: number }> {
  const cpuBefore = await cpuSeconds();
  const start = performance.now();
  await task();
  const wall = (performance.now() - start) / 1000;
  return { wall, cpu: (await cpuSeconds()) - cpuBefore };
}

/**
 * One vipsthumbnail process per core, each given its share of the files in a single invocation,
 * which is the fastest way to drive it: start-up is paid once per core, not once per image.
 */
async function vipsthumbnail(
  binary: string,
  files: readonly string[],
  sizes: readonly number[],
  out: string,
): Promise<void> {
  await Promise.all(
    split(files, CORES).map(async (share) => {
      for (const size of sizes) {
        await run(binary, [
          ...share,
          '-s',
          String(size),
          '-o',
          join(out, `%s-${size}.jpg[Q=82,strip]`),
        ]);
      }
    }),
  );
}

/**
 * Runs the resize command on `directory` in a fresh Node process and checks every variant came
 * out.
 */
async function resizeInChild(
  entry: readonly string[],
  directory: string,
  out: string,
): Promise<void> {
  const { stdout } = await run(
    process.execPath,
    [...entry, 'resize', directory, '--out', out, '--json'],
    {
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const reports = JSON.parse(stdout) as { status: string; variants: unknown[] }[];
  const variants = reports.reduce((total, report) => total + report.variants.length, 0);
  if (
    reports.some((report) => report.status !== 'ok') ||
    variants !== reports.length * SIZES.length
  ) {
    throw new Error(`sluice resize did not produce every variant: ${stdout.slice(0, 500)}`);
  }
}

const SLUICE_CLI = [join(ROOT, 'cli', 'sluice.js')];

/** The engine alone, as the Lambda handler calls it: no process start-up, one image per core. */
async function engineInProcess(files: readonly string[]): Promise<void> {
  await Promise.all(
    split(files, CORES).map(async (share) => {
      for (const file of share)
        await resizeImage(await readFile(file), DEFAULT_IMAGE_CONFIG.variants);
    }),
  );
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function peakRss(file: string): Promise<number> {
  const child = spawn(
    process.execPath,
    [...process.execArgv, import.meta.filename, '--peak-rss', file],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`peak RSS child exited with ${code}`);
  return (JSON.parse(output) as { maxRssMb: number }).maxRssMb;
}

async function vipsthumbnailPeakRss(
  binary: string,
  file: string,
  out: string,
): Promise<number | undefined> {
  if (!existsSync('/usr/bin/time')) return undefined;
  const { stderr } = await run('/usr/bin/time', [
    '-f',
    '%M',
    binary,
    file,
    '-s',
    String(LARGEST),
    '-o',
    join(out, '%s-rss.jpg[Q=82,strip]'),
  ]);
  return Number(stderr.trim().split('\n').at(-1)) / 1024;
}

/**
 * Linux carries `ru_maxrss` across fork and exec, so a child spawned from this (large) process
 * would report the parent's peak; VmHWM belongs to the child's own address space.
 */
async function ownPeakRssMb(): Promise<number> {
  const status = await readFile('/proc/self/status', 'utf8').catch(() => '');
  const kilobytes = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
  return Number(kilobytes ?? process.resourceUsage().maxRSS) / 1024;
}

async function childPeakRss(file: string): Promise<void> {
  await resizeImage(await readFile(file), DEFAULT_IMAGE_CONFIG.variants);
  process.stdout.write(JSON.stringify({ maxRssMb: await ownPeakRssMb() }));
}

async function main(): Promise<void> {
  const files = await prepareInputs();
  const metadata = await sharp(files[0]).metadata();
  const megapixels = ((metadata.width * metadata.height) / 1e6).toFixed(1);
  const binary = findVipsthumbnail();
  const out = join(WORK, 'out');

  const keys = ['largestOnly', 'perVariant', 'sluice', 'startup', 'engine'] as const;
  const times = Object.fromEntries(
    keys.map((key) => [key, { wall: [] as number[], cpu: [] as number[] }]),
  ) as Record<(typeof keys)[number], { wall: number[]; cpu: number[] }>;
  // Rounds interleave the contenders, so drift in machine load touches each alike.
  for (let round = 0; round < ROUNDS; round++) {
    process.stderr.write(`round ${round + 1}/${ROUNDS}\n`);
    for (const [key, task] of [
      ['largestOnly', binary ? () => vipsthumbnail(binary, files, [LARGEST], out) : undefined],
      ['perVariant', binary ? () => vipsthumbnail(binary, files, SIZES, out) : undefined],
      ['sluice', () => resizeInChild(SLUICE_CLI, PHOTOS, out)],
      ['startup', () => run(process.execPath, [...SLUICE_CLI, '--version'])],
      ['engine', () => engineInProcess(files)],
    ] as const) {
      if (!task) continue;
      await rm(out, { recursive: true, force: true });
      await mkdir(out, { recursive: true });
      const { wall, cpu } = await timed(task);
      times[key].wall.push(wall);
      times[key].cpu.push(cpu);
    }
  }

  const reference = binary ? times.largestOnly : undefined;
  const row = (label: string, { wall, cpu }: { wall: number[]; cpu: number[] }, note = '') => {
    const ratio = (values: number[], of: number[]) => (median(values) / median(of)).toFixed(2);
    return [
      label.padEnd(46),
      `${median(wall).toFixed(2).padStart(5)} s wall`,
      reference ? ` (${ratio(wall, reference.wall)})` : '',
      `${median(cpu).toFixed(2).padStart(6)} s CPU`,
      reference ? ` (${ratio(cpu, reference.cpu)})` : '',
      note ? `   ${note}` : '',
    ].join('');
  };
  const lines = [
    `sluice image bench: ${files.length} × ${megapixels} MP JPEG (${metadata.width}×${metadata.height}), ` +
      `variants ${SIZES.join('/')} px JPEG q82, ${CORES} cores, median of ${ROUNDS} rounds`,
  ];
  if (binary) {
    const version = execFileSync(binary, ['--vips-version'], { encoding: 'utf8' }).trim();
    lines.push(
      row(`(1) vipsthumbnail, ${LARGEST} px only`, times.largestOnly, `reference, ${version}`),
      row('(2) vipsthumbnail, once per variant', times.perVariant),
    );
  } else {
    lines.push('(1), (2) skipped: vipsthumbnail is not installed (apt-get install libvips-tools)');
  }
  lines.push(
    row('(3) sluice resize <dir>, all variants', times.sluice, 'whole CLI, start-up included'),
    row('    of which CLI start-up (sluice --version)', times.startup),
    row('    engine in-process', times.engine, 'as the Lambda handler runs it'),
  );
  if (reference !== undefined) {
    const ratio = median(times.sluice.wall) / median(reference.wall);
    lines.push(
      `target (3)/(1) ≤ ${RATIO_TARGET.toFixed(1)}: ${ratio <= RATIO_TARGET ? 'met' : 'MISSED'} (${ratio.toFixed(2)})`,
    );
  }
  const big = await sharp(BIG_PHOTO).metadata();
  const rss = await peakRss(BIG_PHOTO);
  const vipsRss = binary ? await vipsthumbnailPeakRss(binary, BIG_PHOTO, out) : undefined;
  lines.push(
    `peak RSS, one ${((big.width * big.height) / 1e6).toFixed(0)} MP JPEG, all variants: ${rss.toFixed(0)} MB   ` +
      `target ≤ ${RSS_TARGET_MB} MB: ${rss <= RSS_TARGET_MB ? 'met' : 'MISSED'}` +
      (vipsRss === undefined
        ? ''
        : `   (vipsthumbnail, ${LARGEST} px only: ${vipsRss.toFixed(0)} MB)`),
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

const peakRssIndex = process.argv.indexOf('--peak-rss');
const peakRssFile = process.argv[peakRssIndex + 1];
if (peakRssIndex >= 0 && peakRssFile) await childPeakRss(peakRssFile);
else await main();
