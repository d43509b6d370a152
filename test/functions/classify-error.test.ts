import {
  ConditionalCheckFailedException,
  TransactionInProgressException,
} from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { TransientError } from '#commons/errors.ts';
import { classifyError } from '#commons/helpers/handler.ts';

const sdkError = (name: string, status?: number) =>
  Object.assign(new Error(`${name} happened`), {
    name,
    $fault: status !== undefined && status >= 500 ? 'server' : 'client',
    $metadata: status === undefined ? {} : { httpStatusCode: status },
  });
const networkError = (code: string) => Object.assign(new Error(`socket: ${code}`), { code });

describe('classifyError, by the SDK v3 retry classification', () => {
  it.each([
    ['RequestThrottledException', sdkError('RequestThrottledException', 400)],
    [
      'TransactionInProgressException',
      new TransactionInProgressException({ message: 'busy', $metadata: { httpStatusCode: 400 } }),
    ],
    ['SlowDown', sdkError('SlowDown', 503)],
    ['an unmodelled 502', sdkError('BadGateway', 502)],
    ['EPIPE', networkError('EPIPE')],
    ['ETIMEDOUT', networkError('ETIMEDOUT')],
    ['ECONNRESET', networkError('ECONNRESET')],
    ['TimeoutError', sdkError('TimeoutError')],
  ])('%s is a TransientError, which the ASL retries', (_, error) => {
    // Act
    const classified = classifyError(error) as Error;

    // Assess
    expect(classified).toBeInstanceOf(TransientError);
    expect(classified.name).toBe('TransientError');
    expect(classified.cause).toBe(error);
  });

  it.each([
    [
      'ConditionalCheckFailedException',
      new ConditionalCheckFailedException({ message: 'no', $metadata: { httpStatusCode: 400 } }),
    ],
    ['ValidationException', sdkError('ValidationException', 400)],
    ['a domain error', Object.assign(new Error('bad pixels'), { name: 'CorruptImage' })],
  ])('%s stays what it is', (_, error) => {
    expect(classifyError(error)).toBe(error);
  });
});
