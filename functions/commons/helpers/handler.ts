import {
  isServerError,
  isThrottlingError,
  isTransientError,
} from '@smithy/service-error-classification';
import type { SdkError } from '@smithy/types';
import type { Context } from 'aws-lambda';
import { InputError, TransientError } from '#commons/errors.ts';
import type { FileRef } from '#commons/types.ts';
import { logger } from './logger.ts';
import { publishInputError } from './metrics.ts';

/** State input of every task that works on one file. */
export interface FileTaskInput {
  readonly file: FileRef;
  readonly executionId: string;
}

/**
 * SDK faults that a retry may cure become `TransientError`, the one name the ASL retries on, so
 * the state machine needs no list of every service's throttling codes. The SDK's own
 * classification decides, the same one its retry strategy uses: throttling codes, 5xx, timeouts
 * and dropped connections (`ECONNRESET`, `EPIPE`, `ETIMEDOUT`, ...).
 */
export function classifyError(error: unknown): unknown {
  if (!(error instanceof Error) || error instanceof TransientError) return error;
  const sdkError = error as SdkError;
  if (isThrottlingError(sdkError) || isTransientError(sdkError) || isServerError(sdkError)) {
    return new TransientError(`${error.name}: ${error.message}`, { cause: error });
  }
  return error;
}

/**
 * Wraps a file task: every log line carries the execution id, object key and dataset, SDK faults
 * are classified for the ASL's Retry, and an `InputError` (the file's fault, which the ASL
 * quarantines) emits `InputErrors`, so the function's Errors alarm can leave it out.
 */
export function fileTask<I extends FileTaskInput, O>(
  task: (input: I, context: Context) => Promise<O>,
): (input: I, context: Context) => Promise<O> {
  return async (input, context) => {
    logger.addContext(context);
    logger.appendKeys({
      executionId: input.executionId,
      key: input.file.key,
      dataset: input.file.dataset,
    });
    try {
      return await task(input, context);
    } catch (error) {
      const classified = classifyError(error);
      logger.error('task failed', classified as Error);
      if (classified instanceof InputError) countInputError(context);
      throw classified;
    } finally {
      logger.resetKeys();
    }
  };
}

function countInputError(context: Context): void {
  try {
    publishInputError(context.functionName);
  } catch (error) {
    // The ASL routes on the task's error name; a metric that could not be written must not
    // replace it.
    logger.warn('could not emit InputErrors', error as Error);
  }
}
