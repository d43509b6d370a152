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
