import sharp, { type Sharp, type ResizeOptions as SharpResizeOptions } from 'sharp';
import { isSrgbProfile } from './colour-profile.ts';
import { detectImageType, isExtensionMismatch, TYPE_SNIFF_BYTES } from './detect-type.ts';
import {
  CorruptImage,
  ImageError,
  ImageTimeout,
  ImageTooLarge,
  InvalidVariantConfig,
  UnsupportedImageFormat,
} from './errors.ts';
import {
  DEFAULT_IMAGE_CONFIG,
  DEFAULT_QUALITY,
  EXTENSION_BY_FORMAT,
  type OutputFormat,
  type VariantSpec,
} from './variants.ts';

// Every upload is a different image, so libvips' operation cache would only hold memory.
sharp.cache(false);

/** Limits and metadata handling for one call; an {@link ImageConfig} can be spread in directly. */
export interface ResizeOptions {
  /** Keep EXIF, XMP and the original ICC profile. @default false — stripped, pixels in sRGB */
  readonly keepMetadata?: boolean;
  /** Largest width × height accepted, judged from the header. @default 100 000 000 */
  readonly maxPixels?: number;
  /** Largest input accepted, in bytes. @default 64 MiB */
  readonly maxBytes?: number;
  /** Guard on the whole call, in milliseconds. @default 30 000 */
  readonly timeoutMs?: number;
  /** The extension the file was uploaded with (`jpg`, `.PNG`), compared with its real type. */
  readonly declaredExtension?: string;
}

/** What the engine learnt about the upload itself. */
export interface SourceSummary {
  /** Width as displayed, after EXIF orientation. */
  width: number;
  /** Height as displayed, after EXIF orientation. */
  height: number;
  /** Decoder that read the file: `jpeg`, `png`, `webp`, `gif`, `tiff` or `heif` (AVIF). */
  format: string;
  /** EXIF orientation tag (1–8), or null when the file has none. */
  orientation: number | null;
  /** Type found in the magic bytes (see {@link detectImageType}). */
  detectedType: string;
  /** True when `declaredExtension` disagrees with `detectedType`. */
  extensionMismatch: boolean;
}

/** One encoded variant. */
export interface VariantOutput {
  name: string;
  format: OutputFormat;
  /** Extension to store it under: `jpg`, `webp`, `avif` or `png`. */
  extension: string;
  width: number;
  height: number;
  bytes: number;
  data: Buffer;
}

export interface ResizeResult {
  source: SourceSummary;
  variants: VariantOutput[];
}

// HEIC needs an HEVC decoder that sharp's prebuilt libvips leaves out for patent reasons; SVG and
// PDF are documents that can reference other resources, which an ETL should not render blindly.
const DECODABLE_TYPES = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif']);
const SUPPORTED_LIST = 'JPEG, PNG, WebP, GIF, TIFF and AVIF';

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** libvips repeats itself across lines; one line of its distinct messages reads better. */
function libvipsMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const lines = message.split('\n').map((line) => line.trim().replace(/:$/, ''));
  return [...new Set(lines.filter(Boolean))].join('; ').slice(0, 300);
}

/**
 * Turns libvips' failures into the named errors the pipeline quarantines on. The magic bytes
 * already matched a format the engine reads, so a decoder that cannot make sense of the file
 * means the file is damaged, whatever libvips calls it.
 */
function toImageError(error: unknown): Error {
  if (error instanceof ImageError) return error;
  const message = libvipsMessage(error);
  if (/pixel limit/i.test(message)) return new ImageTooLarge(`The image is too large: ${message}`);
  if (/timeout/i.test(message)) {
    return new ImageTimeout(`Processing the image timed out: ${message}`);
  }
  return new CorruptImage(`The image could not be decoded: ${message}`);
}

/**
 * The fraction of the source that the largest variant needs. Decoding at that scale lets JPEG and
 * WebP shrink on load (decode at 1/2, 1/4, 1/8), which is most of the speed.
 */
function decodeScale(width: number, height: number, variants: readonly VariantSpec[]): number {
  const longEdge = Math.max(width, height);
  const shortEdge = Math.min(width, height);
  const needed = variants.map((variant) =>
    variant.fit === 'cover' ? variant.size / shortEdge : variant.size / longEdge,
  );
  return Math.min(1, Math.max(...needed));
}

/**
 * How to turn the decoded pixels into `variant`. Sizes come from the source's dimensions, not the
 * decoded ones, so a variant has the same size whichever group (and decode scale) produced it.
 */
function resizeFor(
  variant: VariantSpec,
  source: { width: number; height: number },
  decoded: { width: number; height: number },
): SharpResizeOptions | null {
  const longEdge = Math.max(source.width, source.height);
  const shortEdge = Math.min(source.width, source.height);
  switch (variant.fit ?? 'inside') {
    case 'inside': {
      if (variant.size >= longEdge) return null;
      const scale = variant.size / longEdge;
      const width = Math.max(1, Math.round(source.width * scale));
      const height = Math.max(1, Math.round(source.height * scale));
      return width === decoded.width && height === decoded.height
        ? null
        : { width, height, fit: 'fill' };
    }
    case 'cover': {
      const side = Math.min(variant.size, shortEdge);
      return { width: side, height: side, fit: 'cover', position: 'attention' };
    }
    case 'contain': {
      const side = Math.min(variant.size, longEdge);
      return {
        width: side,
        height: side,
        fit: 'contain',
        // JPEG has no alpha; white is what a viewer would show behind a transparent source anyway.
        background: variant.format === 'jpeg' ? '#ffffff' : { r: 0, g: 0, b: 0, alpha: 0 },
      };
    }
  }
}

function encode(pipeline: Sharp, variant: VariantSpec): Sharp {
  const quality = variant.quality ?? DEFAULT_QUALITY[variant.format];
  switch (variant.format) {
    case 'jpeg':
      // A second Huffman pass doubles encode time for files 1–2% smaller; libvips skips it too.
      return pipeline.flatten({ background: '#ffffff' }).jpeg({ quality, optimiseCoding: false });
    case 'webp':
      return pipeline.webp({ quality });
    case 'avif':
      // Effort 4 (the default) is several times slower for a few percent smaller files.
      return pipeline.avif({ quality, effort: 2 });
    case 'png':
      return pipeline.png({ compressionLevel: 7 });
  }
}

interface Decoded {
  readonly base: Sharp;
  readonly width: number;
  readonly height: number;
}

async function encodeVariant(
  from: Decoded,
  variant: VariantSpec,
  resize: SharpResizeOptions | null,
  keepMetadata: boolean,
  timeout: { seconds: number },
): Promise<VariantOutput> {
  let pipeline = from.base.clone().timeout(timeout);
  if (resize) pipeline = pipeline.resize(resize);
  if (keepMetadata) pipeline = pipeline.keepMetadata();
  const { data, info } = await encode(pipeline, variant)
    .toBuffer({ resolveWithObject: true })
    .catch((error) => {
      throw toImageError(error);
    });
  return {
    name: variant.name,
    format: variant.format,
    extension: EXTENSION_BY_FORMAT[variant.format],
    width: info.width,
    // An animation's info counts every frame's rows; a variant's height is one frame's.
    height: info.pageHeight ?? info.height,
    bytes: data.length,
    data,
  };
}

async function rawPixels(pipeline: Sharp): Promise<Decoded> {
  const { data, info } = await pipeline
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true })
    .catch((error) => {
      throw toImageError(error);
    });
  const raw = { width: info.width, height: info.height, channels: info.channels };
  return { base: sharp(data, { raw }), width: info.width, height: info.height };
}

/**
 * Animated GIF and WebP sources keep their animation in WebP variants: the one output format that
 * can carry it. Frames share one pixel budget, and a tagged orientation falls back to the first
 * frame, as libvips cannot turn a stack of frames a quarter.
 */
function keepsAnimation(
  metadata: { pages?: number | undefined; orientation?: number | undefined },
  width: number,
  height: number,
  maxPixels: number,
): boolean {
  const frames = metadata.pages ?? 1;
  return frames > 1 && (metadata.orientation ?? 1) === 1 && frames * width * height <= maxPixels;
}

/** Decodes every frame for one animated WebP variant; frames cannot share the still decode. */
function encodeAnimated(
  input: Buffer,
  variant: VariantSpec,
  source: { width: number; height: number },
  options: Required<Omit<ResizeOptions, 'declaredExtension'>>,
  timeout: { seconds: number },
): Promise<VariantOutput> {
  const frames = sharp(input, {
    animated: true,
    failOn: 'error',
    limitInputPixels: options.maxPixels,
  });
  const resize = resizeFor(variant, source, source);
  // libvips' attention crop cannot judge a stack of frames, so animations crop to the centre.
  const framed = resize?.position === 'attention' ? { ...resize, position: 'centre' } : resize;
  return encodeVariant({ base: frames, ...source }, variant, framed, options.keepMetadata, timeout);
}

/**
 * Encodes every variant from the one decode. Long-edge (`inside`) variants cascade from large to
 * small: each smaller one is resized from the pixels of the next larger, which is cheaper than
 * going back to the full decode each time. Crops and letterboxes start from the full decode,
 * since a smaller rendition may lack the short edge they need.
 */
async function encodeAll(
  decoded: Decoded,
  variants: readonly VariantSpec[],
  source: { width: number; height: number },
  keepMetadata: boolean,
  timeout: { seconds: number },
): Promise<VariantOutput[]> {
  const pending: Promise<VariantOutput>[] = [];
  const start = (index: number, output: Promise<VariantOutput>): void => {
    // Attach a handler now: a failure must wait for Promise.all below, not crash the process.
    output.catch(() => {});
    pending[index] = output;
  };
  // Raw pixels cannot carry metadata, so with it kept every variant starts from the full decode.
  const ladder = variants
    .map((variant, index) => ({ variant, index }))
    .filter(({ variant }) => !keepMetadata && (variant.fit ?? 'inside') === 'inside')
    .sort((a, b) => b.variant.size - a.variant.size);
  let level = decoded;
  for (const [step, { variant, index }] of ladder.entries()) {
    const resize = resizeFor(variant, source, level);
    if (resize && step < ladder.length - 1) {
      level = await rawPixels(level.base.clone().timeout(timeout).resize(resize));
      start(index, encodeVariant(level, variant, null, keepMetadata, timeout));
    } else {
      start(index, encodeVariant(level, variant, resize, keepMetadata, timeout));
    }
  }
  for (const [index, variant] of variants.entries()) {
    if (pending[index]) continue;
    start(
      index,
      encodeVariant(decoded, variant, resizeFor(variant, source, decoded), keepMetadata, timeout),
    );
  }
  return Promise.all(pending);
}

async function render(
  input: Buffer,
  variants: readonly VariantSpec[],
  options: Required<Omit<ResizeOptions, 'declaredExtension'>>,
  detectedType: string,
  declaredExtension: string | undefined,
): Promise<ResizeResult> {
  const timeout = { seconds: Math.max(1, Math.ceil(options.timeoutMs / 1000)) };
  const metadata = await sharp(input, { limitInputPixels: false })
    .metadata()
    .catch((error) => {
      throw toImageError(error);
    });
  const { width, height } = metadata.autoOrient;
  // The header alone decides, so a small file declaring a huge canvas is never decoded.
  if (width * height > options.maxPixels) {
    throw new ImageTooLarge(
      `The image declares ${width}×${height} = ${(width * height).toLocaleString('en')} pixels, ` +
        `over the ${options.maxPixels.toLocaleString('en')} pixel limit.`,
    );
  }

  const animate = keepsAnimation(metadata, width, height, options.maxPixels);
  const isAnimated = (variant: VariantSpec) => animate && variant.format === 'webp';
  const stills = variants.filter((variant) => !isAnimated(variant));
  const animations = Promise.all(
    variants
      .filter(isAnimated)
      .map((variant) => encodeAnimated(input, variant, { width, height }, options, timeout)),
  );
  animations.catch(() => {});
  const decoded =
    stills.length === 0
      ? undefined
      : await decodeOnce(input, stills, { width, height }, options, {
          timeout,
          // With metadata kept the profile travels along and nothing is converted anyway.
          ignoreIcc: !options.keepMetadata && isSrgbProfile(metadata.icc),
        });
  const stillOutputs = decoded
    ? await encodeAll(decoded, stills, { width, height }, options.keepMetadata, timeout)
    : [];
  const animatedOutputs = await animations;
  // Both lists keep the order of `variants`, so taking from their fronts restores it.
  const outputs = variants.map((variant) =>
    isAnimated(variant) ? animatedOutputs.shift() : stillOutputs.shift(),
  ) as VariantOutput[];

  return {
    source: {
      width,
      height,
      format: metadata.format,
      orientation: metadata.orientation ?? null,
      detectedType,
      extensionMismatch: isExtensionMismatch(detectedType, declaredExtension),
    },
    variants: outputs,
  };
}

/**
 * Decodes the source once, upright and scaled to what the largest variant needs, into memory that
 * every variant is then cloned from. Sharp's `clone()` of a file input would decode it again per
 * variant; cloning from raw pixels does not. With `keepMetadata` the pixels travel as an
 * uncompressed PNG instead, because raw pixels cannot carry EXIF, XMP or an ICC profile.
 */
async function decodeOnce(
  input: Buffer,
  variants: readonly VariantSpec[],
  { width, height }: { width: number; height: number },
  options: Required<Omit<ResizeOptions, 'declaredExtension'>>,
  { timeout, ignoreIcc }: { timeout: { seconds: number }; ignoreIcc: boolean },
): Promise<Decoded> {
  const scale = decodeScale(width, height, variants);
  let pipeline = sharp(input, {
    autoOrient: true,
    ignoreIcc,
    // 'error' rejects truncated and damaged data but tolerates the harmless warnings many cameras trigger.
    failOn: 'error',
    limitInputPixels: options.maxPixels,
  }).timeout(timeout);
  if (scale < 1) {
    pipeline = pipeline.resize(
      Math.max(1, Math.round(width * scale)),
      Math.max(1, Math.round(height * scale)),
      { fit: 'fill' },
    );
  }
  // 16-bit and greyscale sources become 8-bit sRGB here, so every encoder sees the same layout.
  pipeline = pipeline.toColourspace('srgb');
  if (!options.keepMetadata) return rawPixels(pipeline);
  const { data, info } = await pipeline
    .keepMetadata()
    .png({ compressionLevel: 0 })
    .toBuffer({ resolveWithObject: true })
    .catch((error) => {
      throw toImageError(error);
    });
  return { base: sharp(data), width: info.width, height: info.height };
}

/**
 * Decodes `input` once and derives every variant from that decode. Orientation is applied, so
 * every output is upright; metadata is stripped and colours converted to sRGB unless
 * `keepMetadata` is set. Animated GIF and WebP keep their animation in WebP variants; every
 * other variant shows the first frame.
 *
 * @throws CorruptImage for empty, truncated or damaged files.
 * @throws UnsupportedImageFormat when the magic bytes are no image, or one the engine does not read.
 * @throws ImageTooLarge over `maxBytes`, or when the header declares more than `maxPixels`.
 * @throws ImageTimeout when the work outlasts `timeoutMs`.
 */
export async function resizeImage(
  input: Buffer,
  variants: readonly VariantSpec[],
  options: ResizeOptions = {},
): Promise<ResizeResult> {
  const settings = {
    keepMetadata: options.keepMetadata ?? DEFAULT_IMAGE_CONFIG.keepMetadata,
    maxPixels: options.maxPixels ?? DEFAULT_IMAGE_CONFIG.maxPixels,
    maxBytes: options.maxBytes ?? DEFAULT_IMAGE_CONFIG.maxBytes,
    timeoutMs: options.timeoutMs ?? DEFAULT_IMAGE_CONFIG.timeoutMs,
  };
  if (variants.length === 0) {
    throw new InvalidVariantConfig('resizeImage needs at least one variant');
  }
  if (input.length === 0) throw new CorruptImage('The file is empty (0 bytes).');
  if (input.length > settings.maxBytes) {
    throw new ImageTooLarge(
      `The file is ${formatBytes(input.length)}, over the ${formatBytes(settings.maxBytes)} limit.`,
    );
  }
  const detectedType = detectImageType(input.subarray(0, TYPE_SNIFF_BYTES));
  if (detectedType === undefined) {
    throw new UnsupportedImageFormat(
      `The file is not an image: its first bytes match no known image format (supported: ${SUPPORTED_LIST}).`,
    );
  }
  if (!DECODABLE_TYPES.has(detectedType)) {
    throw new UnsupportedImageFormat(
      `${detectedType.toUpperCase()} images are not supported (supported: ${SUPPORTED_LIST}).`,
    );
  }

  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new ImageTimeout(`Processing the image took longer than ${settings.timeoutMs} ms.`)),
      settings.timeoutMs,
    );
  });
  const work = render(input, variants, settings, detectedType, options.declaredExtension);
  // libvips stops on its own timeout; until then a late failure must not surface as unhandled.
  work.catch(() => {});
  try {
    return await Promise.race([work, guard]);
  } finally {
    clearTimeout(timer);
  }
}
