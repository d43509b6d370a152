import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, extname, join } from 'node:path';
import { Command } from 'commander';
import {
  DEFAULT_IMAGE_CONFIG,
  type ImageConfig,
  InvalidVariantConfig,
  parseImageConfig,
  resizeImage,
} from '#commons/image/index.ts';

const HELP = `
Writes each variant to <out>/<image name>/<variant name>.<ext>, the layout the pipeline uses
under variants/<dataset>/. A directory is processed non-recursively (hidden files skipped), up to
one image per CPU core at a time; a file that fails gets its error line and the rest carry on.

Output:
  default   one line per file on stdout, in input order; progress on stderr for directories
  --json    an array on stdout, one object per file:
            { "file", "status": "ok" | "error", "source": { width, height, format } | null,
              "variants": [{ path, width, height, format, bytes }],
              "error": { name, message } | null }
            Error names: CorruptImage, UnsupportedImageFormat, ImageTooLarge, ImageTimeout.

Variants file (--variants spec.json), the same JSON as schemas/<dataset>.variants.json:
  {
    "variants": [
      { "name": "large", "size": 1600, "format": ["jpeg", "webp"], "quality": 82 },
      { "name": "thumb", "size": 200, "format": "avif", "fit": "cover" }
    ],
    "keepMetadata": false,   optional: true keeps EXIF, XMP and the original ICC profile
    "maxPixels": 100000000,  optional: width x height limit, checked from the header
    "maxBytes": 67108864,    optional: file size limit
    "timeoutMs": 30000       optional: per-file time limit
  }
  name     letters, digits, "-" and "_"
  size     long edge in px (inside) or the side of the square (cover, contain); never upscaled
  format   jpeg | webp | avif | png, or a list of them (one file per format)
  quality  1-100; default 82 for JPEG, 80 for WebP, 50 for AVIF; PNG is lossless
  fit      inside (default) | cover (square, cropped to the most interesting region)
           | contain (square, letterboxed: transparent, or white for JPEG)
Without --variants: JPEG at 1600, 800 and 200 px long edge, quality 82, metadata stripped.

Inputs: JPEG (incl. CMYK), PNG (all colour types and bit depths), WebP, GIF, TIFF, AVIF.
Animated GIF and WebP stay animated in WebP variants; other formats get the first frame.
HEIC, SVG, PDF, BMP and JPEG XL are rejected. The file's bytes, not its name, decide its type.

Exit codes:
  0  every file succeeded
  1  at least one file failed
  2  usage error: bad arguments, unreadable input or variants file
`;

/** Matches `EXIT_USAGE` in `cli/program.ts`, which imports this module. */
const EXIT_USAGE = 2;

/** The invocation is at fault (arguments, unreadable input or variants file), not an image. */
class UsageError extends Error {
  override name = 'UsageError';
}

interface ResizeCommandOptions {
  readonly out: string;
  readonly variants?: string;
  readonly json?: boolean;
}

/** One line of the `--json` report. */
interface FileReport {
  file: string;
  status: 'ok' | 'error';
  source: { width: number; height: number; format: string } | null;
  variants: { path: string; width: number; height: number; format: string; bytes: number }[];
  error: { name: string; message: string } | null;
  /** Kept out of the JSON: shown in the human line only. */
  extensionMismatch?: { declared: string; detected: string };
}

async function loadConfig(path: string | undefined): Promise<ImageConfig> {
  if (path === undefined) return DEFAULT_IMAGE_CONFIG;
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`cannot read --variants ${path}: ${(error as Error).message}`);
  }
  try {
    return parseImageConfig(json);
  } catch (error) {
    if (error instanceof InvalidVariantConfig) {
      throw new UsageError(`--variants ${path}: ${error.message}`);
    }
    throw error;
  }
}

async function listInputs(target: string): Promise<{ files: string[]; isDirectory: boolean }> {
  const info = await stat(target).catch((error: Error) => {
    throw new UsageError(`cannot read ${target}: ${error.message}`);
  });
  if (!info.isDirectory()) return { files: [target], isDirectory: false };
  const entries = await readdir(target, { withFileTypes: true });
  const files = entries
    .filter((entry) => entry.isFile() && !entry.name.startsWith('.'))
    .map((entry) => join(target, entry.name))
    .sort();
  return { files, isDirectory: true };
}

async function processFile(file: string, out: string, config: ImageConfig): Promise<FileReport> {
  try {
    const declaredExtension = extname(file).slice(1);
    const result = await resizeImage(await readFile(file), config.variants, {
      ...config,
      declaredExtension,
    });
    const directory = join(out, basename(file, extname(file)));
    await mkdir(directory, { recursive: true });
    const variants = await Promise.all(
      result.variants.map(async (variant) => {
        const path = join(directory, `${variant.name}.${variant.extension}`);
        await writeFile(path, variant.data);
        const { width, height, format, bytes } = variant;
        return { path, width, height, format, bytes };
      }),
    );
    const { width, height, format, detectedType, extensionMismatch } = result.source;
    return {
      file,
      status: 'ok',
      source: { width, height, format },
      variants,
      error: null,
      ...(extensionMismatch
        ? { extensionMismatch: { declared: declaredExtension, detected: detectedType } }
        : {}),
    };
  } catch (error) {
    const { name, message } =
      error instanceof Error ? error : { name: 'Error', message: String(error) };
    return { file, status: 'error', source: null, variants: [], error: { name, message } };
  }
}

/** Runs `task` over `items` with at most `limit` in flight, keeping results in input order. */
async function mapConcurrently<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let index = next++; index < items.length; index = next++) {
      results[index] = await task(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function formatBytes(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`;
}

function describe(report: FileReport): string {
  if (report.status === 'error') {
    return `${report.file}  error ${report.error?.name}: ${report.error?.message}`;
  }
  const source = `${report.source?.width}×${report.source?.height} ${report.source?.format}`;
  const variants = report.variants
    .map((v) => `${basename(v.path)} ${v.width}×${v.height} ${formatBytes(v.bytes)}`)
    .join(', ');
  const mismatch = report.extensionMismatch
    ? ` (named .${report.extensionMismatch.declared}, but is ${report.extensionMismatch.detected})`
    : '';
  return `${report.file}  ${source}${mismatch} → ${variants}`;
}

async function runResize(target: string, options: ResizeCommandOptions): Promise<number> {
  const config = await loadConfig(options.variants);
  const { files, isDirectory } = await listInputs(target);
  let done = 0;
  const reports = await mapConcurrently(files, availableParallelism(), async (file) => {
    const report = await processFile(file, options.out, config);
    done += 1;
    if (isDirectory) process.stderr.write(`[${done}/${files.length}] ${file} ${report.status}\n`);
    return report;
  });

  if (options.json) {
    const json = reports.map(({ extensionMismatch: _, ...report }) => report);
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  } else {
    for (const report of reports) process.stdout.write(`${describe(report)}\n`);
    const failed = reports.filter((report) => report.status === 'error').length;
    process.stdout.write(
      `${reports.length - failed} ok, ${failed} failed; variants in ${options.out}\n`,
    );
  }
  return reports.some((report) => report.status === 'error') ? 1 : 0;
}

/** `sluice resize`: the image engine on local files, as the pipeline would run it. */
export function resizeCommand(): Command {
  return new Command('resize')
    .description('Make image variants from a local image or directory with the pipeline engine.')
    .argument('<image-or-dir>', 'an image file, or a directory of images')
    .requiredOption('--out <dir>', 'directory to write <image name>/<variant>.<ext> into')
    .option('--variants <spec.json>', 'variants file (see below); default JPEG 1600/800/200')
    .option('--json', 'print a JSON array with one object per input file')
    .addHelpText('after', HELP)
    .action(async (target: string, options: ResizeCommandOptions, command: Command) => {
      try {
        process.exitCode = await runResize(target, options);
      } catch (error) {
        if (!(error instanceof UsageError)) throw error;
        command.error(`error: ${error.message}`, { exitCode: EXIT_USAGE, code: 'sluice.usage' });
      }
    });
}
