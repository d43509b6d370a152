import { ConfigurationError, InputError } from '#commons/errors.ts';

/**
 * Base class for every way an uploaded image can be at fault. It extends `InputError`, so the
 * pipeline quarantines the file instead of retrying it.
 */
export class ImageError extends InputError {
  override name = 'ImageError';
}

/** The bytes claim to be an image but cannot be decoded: truncated, damaged or empty. */
export class CorruptImage extends ImageError {
  override name = 'CorruptImage';
}

/** The file is not an image, or is one in a format the engine does not read (HEIC, SVG, BMP...). */
export class UnsupportedImageFormat extends ImageError {
  override name = 'UnsupportedImageFormat';
}

/** The file exceeds the byte limit, or its header declares more pixels than the pixel limit. */
export class ImageTooLarge extends ImageError {
  override name = 'ImageTooLarge';
}

/** Decoding and encoding took longer than the configured guard allows. */
export class ImageTimeout extends ImageError {
  override name = 'ImageTimeout';
}

/** A variants configuration (`schemas/<dataset>.variants.json` or `--variants`) is malformed. */
export class InvalidVariantConfig extends ConfigurationError {
  override name = 'InvalidVariantConfig';
}
