import type { S3ObjectCreatedNotificationEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import {
  decodeS3EventKey,
  executionName,
  fileRefFromEvent,
  kindOf,
} from '../../functions/commons/file-ref.ts';

const event = (key: string, extra: Record<string, unknown> = {}) =>
  ({
    id: 'e1',
    time: '2026-11-22T10:00:00Z',
    detail: {
      bucket: { name: 'b' },
      object: { key, size: 42, etag: '"abc"', ...extra },
    },
  }) as unknown as S3ObjectCreatedNotificationEvent;

describe('file-ref', () => {
  it('decodes keys the way S3 form-encodes them in events', () => {
    // Act + Assess
    expect(decodeS3EventKey('incoming/a+b%2Bc/%C3%A9t%C3%A9.csv')).toBe('incoming/a b+c/été.csv');
  });

  it('routes by extension, case-insensitively', () => {
    // Assess
    expect(kindOf('x/a.JPG')).toBe('image');
    expect(kindOf('x/a.csv')).toBe('csv');
    expect(kindOf('x/a.txt')).toBe('unknown');
    expect(kindOf('x/noext')).toBe('unknown');
  });

  it('names executions deterministically per bucket, key and version', () => {
    // Act
    const name = executionName('b', 'k', 'v1');

    // Assess
    expect(name).toMatch(/^[0-9a-f]{64}$/);
    expect(executionName('b', 'k', 'v1')).toBe(name);
    expect(executionName('b', 'k', 'v2')).not.toBe(name);
  });

  it('builds the file reference from an Object Created event', () => {
    // Act
    const file = fileRefFromEvent(event('incoming/orders/2026/jan+report.csv'));

    // Assess
    expect(file).toEqual({
      bucket: 'b',
      key: 'incoming/orders/2026/jan report.csv',
      versionTag: 'abc',
      size: 42,
      dataset: 'orders',
      name: 'jan report',
      kind: 'csv',
      receivedAt: '2026-11-22T10:00:00Z',
    });
  });

  it('tags the version by its ETag even when S3 gives a version id, as a listing would', () => {
    // Act
    const file = fileRefFromEvent(event('incoming/x.png', { 'version-id': 'v9' }));

    // Assess
    expect(file).toMatchObject({ versionTag: 'abc', dataset: 'default', name: 'x' });
  });

  it('ignores objects outside incoming/ and folder markers', () => {
    // Assess
    expect(fileRefFromEvent(event('variants/a/b.jpg'))).toBeUndefined();
    expect(fileRefFromEvent(event('incoming/orders/'))).toBeUndefined();
  });
});
