import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { s3Operation } from '#local/faults/operations.ts';

const request = (method: string, url: string, headers: Record<string, string> = {}) =>
  ({ method, url, headers }) as unknown as IncomingMessage;

describe('s3Operation', () => {
  it.each([
    ['POST', '/sluice-local', 'PostObject', {}],
    ['GET', '/sluice-local?list-type=2&prefix=incoming/', 'ListObjectsV2', {}],
    ['PUT', '/sluice-local/incoming/a.csv', 'PutObject', {}],
    ['PUT', '/sluice-local/a', 'CopyObject', { 'x-amz-copy-source': '/b/k' }],
    ['POST', '/sluice-local?delete', 'DeleteObjects', {}],
    ['POST', '/sluice-local/big.bin?uploads', 'CreateMultipartUpload', {}],
  ])('%s %s is %s', (method, url, operation, headers) => {
    expect(s3Operation(request(method, url, headers))).toBe(operation);
  });
});
