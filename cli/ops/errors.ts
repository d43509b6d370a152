/**
 * Errors of the ops commands that come from what the user asked for: which stack, which file,
 * which option. Each one ends the command with one line on stderr and exit code 2 (EXIT_USAGE),
 * never a stack trace. Each class sets `name` itself, as in functions/commons/errors.ts: the CLI
 * is bundled, and a class name alone may not survive that.
 */
export class OpsUsageError extends Error {
  override name = 'OpsUsageError';
}

/** `--data-dir` names no running `sluice up`: no endpoint.json, or its process is gone. */
export class StackNotRunning extends OpsUsageError {
  override name = 'StackNotRunning';
}

/** Nothing answers at the endpoint, or what answers is not a sluice endpoint. */
export class EndpointUnreachable extends OpsUsageError {
  override name = 'EndpointUnreachable';
}

/** `--stack` names no CloudFormation stack, or one without sluice's outputs. */
export class StackNotFound extends OpsUsageError {
  override name = 'StackNotFound';
}

/** The AWS SDK found no credentials, or AWS refused the ones it found. */
export class AwsCredentialsError extends OpsUsageError {
  override name = 'AwsCredentialsError';
}

/** No ledger item for this key. */
export class UnknownFile extends OpsUsageError {
  override name = 'UnknownFile';
}

/** No execution with this ARN. */
export class UnknownExecution extends OpsUsageError {
  override name = 'UnknownExecution';
}

/** An option's value the command cannot use (`--since yesterday`, `--limit 0`). */
export class InvalidOption extends OpsUsageError {
  override name = 'InvalidOption';
}

/** `sluice upload` was given a path that does not exist or holds no file. */
export class NothingToUpload extends OpsUsageError {
  override name = 'NothingToUpload';
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
]);

const CREDENTIAL_ERRORS = new Set([
  'CredentialsProviderError',
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'AccessDeniedException',
]);

/**
 * Turns an SDK failure that means "wrong target" into its usage error: a refused connection is
 * an endpoint that went away mid-command, a credentials error is a `--stack` without access.
 * Anything else is returned as it is: a real failure, exit 1.
 */
export function usageErrorOf(error: unknown, where: string): unknown {
  if (!(error instanceof Error) || error instanceof OpsUsageError) return error;
  const code = (error as Error & { code?: unknown }).code;
  const causeCode = (error.cause as { code?: unknown } | undefined)?.code;
  if (NETWORK_CODES.has(String(code)) || NETWORK_CODES.has(String(causeCode))) {
    return new EndpointUnreachable(`nothing answers at ${where} (${String(code ?? causeCode)})`);
  }
  if (CREDENTIAL_ERRORS.has(error.name)) {
    return new AwsCredentialsError(`${where}: ${error.name}: ${firstLine(error.message)}`);
  }
  return error;
}

/** Keeps an error message to the one line that the contract promises on stderr. */
export function firstLine(text: string): string {
  return (text.split('\n').find((line) => line.trim() !== '') ?? text).trim();
}
