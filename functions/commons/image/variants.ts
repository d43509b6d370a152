import { InvalidVariantConfig } from './errors.ts';

/** Encodings the engine writes. */
export type OutputFormat = 'jpeg' | 'webp' | 'avif' | 'png';

/** How a variant fills its `size` × `size` box. */
export type VariantFit = 'inside' | 'cover' | 'contain';

/** One stored rendition of an upload. */
export interface VariantSpec {
  /** Stored as `<name>.<extension>`: letters, digits, `-` and `_`. */
  readonly name: string;
  /**
   * Long edge in pixels for `inside`; the side of the square output for `cover` and `contain`.
   * A smaller source is never upscaled.
   */
  readonly size: number;
  readonly format: OutputFormat;
  /** Encoder quality, 1–100. Ignored for PNG, which is lossless. @default 82 (JPEG), 80 (WebP), 50 (AVIF) */
  readonly quality?: number;
  /**
   * `inside` keeps the aspect ratio; `cover` crops to a square on the most interesting region
   * (libvips attention); `contain` letterboxes into a square (transparent where the format allows,
   * white for JPEG).
   * @default 'inside'
   */
  readonly fit?: VariantFit;
}

/** Variants produced together from one decode: one Step Functions Map branch. JSON-serialisable. */
export interface VariantGroup {
  readonly name: string;
  readonly variants: readonly VariantSpec[];
}

/** Per-dataset image settings, read from `schemas/<dataset>.variants.json`. */
export interface ImageConfig {
  readonly variants: readonly VariantSpec[];
  /**
   * Keep EXIF, XMP and the original ICC profile in every variant.
   * @default false — metadata is stripped and pixels are converted to sRGB
   */
  readonly keepMetadata: boolean;
  /** Largest width × height accepted, judged from the header before decoding. @default 100 000 000 */
  readonly maxPixels: number;
  /** Largest file accepted, in bytes. @default 64 MiB */
  readonly maxBytes: number;
  /** Guard on the whole decode-and-encode, in milliseconds. @default 30 000 */
  readonly timeoutMs: number;
}

/** File extension stored for each output format. */
export const EXTENSION_BY_FORMAT: Readonly<Record<OutputFormat, string>> = {
  jpeg: 'jpg',
  webp: 'webp',
  avif: 'avif',
  png: 'png',
};

/** Encoder quality used when a variant names none. */
export const DEFAULT_QUALITY: Readonly<Record<OutputFormat, number>> = {
  jpeg: 82,
  webp: 80,
  avif: 50,
  png: 100,
};

const OUTPUT_FORMATS = Object.keys(EXTENSION_BY_FORMAT) as OutputFormat[];
const FITS: readonly VariantFit[] = ['inside', 'cover', 'contain'];
// WebP's hard limit; JPEG and AVIF allow more, but one ceiling keeps configs portable.
const MAX_VARIANT_SIZE = 16_383;
const MAX_VARIANTS = 24;
const VARIANT_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/i;

/** The built-in variants: JPEG at 1600, 800 and 200 px long edge, quality 82, never upscaled. */
export const DEFAULT_IMAGE_CONFIG: ImageConfig = Object.freeze({
  variants: Object.freeze([
    Object.freeze({ name: 'large', size: 1600, format: 'jpeg', quality: 82, fit: 'inside' }),
    Object.freeze({ name: 'medium', size: 800, format: 'jpeg', quality: 82, fit: 'inside' }),
    Object.freeze({ name: 'small', size: 200, format: 'jpeg', quality: 82, fit: 'inside' }),
  ] satisfies VariantSpec[]),
  keepMetadata: false,
  maxPixels: 100_000_000,
  maxBytes: 64 * 1024 * 1024,
  timeoutMs: 30_000,
});

function fail(message: string): never {
  throw new InvalidVariantConfig(message);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

function positiveInteger(value: unknown, where: string, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    fail(`${where} must be an integer from 1 to ${max}, got ${show(value)}`);
  }
  return value;
}

function parseVariant(raw: unknown, index: number): VariantSpec[] {
  const where = `variants[${index}]`;
  if (!isRecord(raw)) fail(`${where} must be an object, got ${show(raw)}`);
  for (const key of Object.keys(raw)) {
    if (!['name', 'size', 'format', 'quality', 'fit'].includes(key)) {
      fail(`${where} has unknown key ${show(key)}; allowed: name, size, format, quality, fit`);
    }
  }
  const { name, size, format, quality, fit } = raw;
  if (typeof name !== 'string' || !VARIANT_NAME.test(name)) {
    fail(`${where}.name must be 1–64 letters, digits, "-" or "_", got ${show(name)}`);
  }
  const formats = Array.isArray(format) ? format : [format];
  if (formats.length === 0) fail(`${where}.format must name at least one format`);
  for (const each of formats) {
    if (!OUTPUT_FORMATS.includes(each as OutputFormat)) {
      fail(`${where}.format must be one of ${OUTPUT_FORMATS.join(', ')}, got ${show(each)}`);
    }
  }
  if (fit !== undefined && !FITS.includes(fit as VariantFit)) {
    fail(`${where}.fit must be one of ${FITS.join(', ')}, got ${show(fit)}`);
  }
  const common = {
    name,
    size: positiveInteger(size, `${where}.size`, MAX_VARIANT_SIZE),
    fit: (fit ?? 'inside') as VariantFit,
    ...(quality === undefined
      ? {}
      : { quality: positiveInteger(quality, `${where}.quality`, 100) }),
  };
  return formats.map((each) => ({ ...common, format: each as OutputFormat }));
}

/**
 * Validates a variants file. Every key is optional except `variants`; omitted limits take their
 * defaults from {@link DEFAULT_IMAGE_CONFIG}. A variant's `format` may be a list
 * (`["jpeg", "webp"]`), which yields one variant per format under the same name.
 *
 * @throws InvalidVariantConfig naming the offending key and value.
 */
export function parseImageConfig(json: unknown): ImageConfig {
  if (!isRecord(json)) fail(`a variants config must be a JSON object, got ${show(json)}`);
  const allowed = ['variants', 'keepMetadata', 'maxPixels', 'maxBytes', 'timeoutMs'];
  for (const key of Object.keys(json)) {
    if (!allowed.includes(key)) fail(`unknown key ${show(key)}; allowed: ${allowed.join(', ')}`);
  }
  const { variants, keepMetadata, maxPixels, maxBytes, timeoutMs } = json;
  if (!Array.isArray(variants) || variants.length === 0) {
    fail(`"variants" must be a non-empty array, got ${show(variants)}`);
  }
  const parsed = variants.flatMap(parseVariant);
  if (parsed.length > MAX_VARIANTS)
    fail(`at most ${MAX_VARIANTS} variants are allowed, got ${parsed.length}`);
  const seen = new Set<string>();
  for (const variant of parsed) {
    const key = `${variant.name}.${EXTENSION_BY_FORMAT[variant.format]}`;
    if (seen.has(key)) fail(`variant ${show(variant.name)} is declared twice as ${variant.format}`);
    seen.add(key);
  }
  if (keepMetadata !== undefined && typeof keepMetadata !== 'boolean') {
    fail(`"keepMetadata" must be true or false, got ${show(keepMetadata)}`);
  }
  const defaults = DEFAULT_IMAGE_CONFIG;
  return {
    variants: parsed,
    keepMetadata: keepMetadata ?? defaults.keepMetadata,
    maxPixels:
      maxPixels === undefined
        ? defaults.maxPixels
        : positiveInteger(maxPixels, '"maxPixels"', 2 ** 40),
    maxBytes:
      maxBytes === undefined ? defaults.maxBytes : positiveInteger(maxBytes, '"maxBytes"', 2 ** 40),
    timeoutMs:
      timeoutMs === undefined
        ? defaults.timeoutMs
        : positiveInteger(timeoutMs, '"timeoutMs"', 900_000),
  };
}

/**
 * Groups variants so each Map branch decodes once: one group per output format, named after it,
 * since AVIF takes many times longer to encode than JPEG and should not hold the JPEGs back.
 * Within a group, variants run from largest to smallest.
 */
export function planVariantGroups(config: ImageConfig): VariantGroup[] {
  const byFormat = new Map<OutputFormat, VariantSpec[]>();
  for (const variant of config.variants) {
    const group = byFormat.get(variant.format) ?? [];
    group.push(variant);
    byFormat.set(variant.format, group);
  }
  return [...byFormat].map(([format, variants]) => ({
    name: format,
    variants: [...variants].sort((a, b) => b.size - a.size),
  }));
}
