/**
 * The image engine: a pure domain module over sharp (libvips), shared by the resize Lambda, the
 * `sluice resize` command and the benchmark. It needs no AWS.
 *
 * Reads JPEG (including CMYK), PNG (every colour type and bit depth), WebP, GIF, TIFF and AVIF,
 * judged by magic bytes. Rejects HEIC (sharp's prebuilt libvips has no HEVC decoder), SVG and PDF
 * (documents, not photos), BMP, ICO, PSD, JPEG 2000 and JPEG XL as `UnsupportedImageFormat`.
 * Writes JPEG, WebP, AVIF and PNG.
 *
 * Every failure the file causes is an `ImageError` (an `InputError`, so the pipeline quarantines):
 * `CorruptImage`, `UnsupportedImageFormat`, `ImageTooLarge`, `ImageTimeout`. A malformed variants
 * file is `InvalidVariantConfig` (a `ConfigurationError`).
 */
export { detectImageType, isExtensionMismatch, TYPE_SNIFF_BYTES } from './detect-type.ts';
export {
  CorruptImage,
  ImageError,
  ImageTimeout,
  ImageTooLarge,
  InvalidVariantConfig,
  UnsupportedImageFormat,
} from './errors.ts';
export {
  type ResizeOptions,
  type ResizeResult,
  resizeImage,
  type SourceSummary,
  type VariantOutput,
} from './resize-image.ts';
export {
  DEFAULT_IMAGE_CONFIG,
  DEFAULT_QUALITY,
  EXTENSION_BY_FORMAT,
  type ImageConfig,
  type OutputFormat,
  parseImageConfig,
  planVariantGroups,
  type VariantFit,
  type VariantGroup,
  type VariantSpec,
} from './variants.ts';
