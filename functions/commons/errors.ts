/**
 * Error hierarchy shared by every function. ASL `Retry` and `Catch` match on `name`, so each
 * class sets it explicitly: minifiers rename classes, and `Error.name` would otherwise be lost.
 */
export class SluiceError extends Error {
  override name = 'SluiceError';
}

/**
 * The file itself is at fault (corrupt, empty, unsupported, rejected by its schema). The pipeline
 * records the error, keeps the original and quarantines a copy; retrying cannot help.
 */
export class InputError extends SluiceError {
  override name = 'InputError';
}

/** A fault outside the file (throttling, timeouts, 5xx) that a retry may cure. */
export class TransientError extends SluiceError {
  override name = 'TransientError';
}

/** Configuration (a schema, a variants file, an env var) is missing or malformed. */
export class ConfigurationError extends SluiceError {
  override name = 'ConfigurationError';
}
