import { describe, expect, it } from 'vitest';
import {
  finalOutcome,
  type ProcessFileState,
  quarantineKey,
  recordedError,
} from '../../functions/commons/outcome.ts';

const base: ProcessFileState = {
  file: {
    bucket: 'b',
    key: 'incoming/orders/jan.csv',
    versionTag: 'v1',
    size: 100,
    dataset: 'orders',
    name: 'jan',
    kind: 'csv',
    receivedAt: '2026-11-22T10:00:00.000Z',
  },
  attempt: 1,
  executionId: 'arn:aws:states:us-east-1:000000000000:execution:sluice-ProcessFile:abc',
  startedAt: '2026-11-22T10:00:01.000Z',
};
const now = new Date('2026-11-22T10:00:03.500Z');
const validation = {
  accepted: false,
  rows: 10,
  invalidRows: 2,
  errors: 2,
  bytes: 100,
  fields: 3,
  reportKey: 'validated/orders/jan/report.json',
  outputs: ['validated/orders/jan/report.json', 'validated/orders/jan/valid.csv'],
};

describe('finalOutcome', () => {
  it('records a success with its outputs, summary and timings', () => {
    // Act
    const { item, aggregate } = finalOutcome(
      { ...base, csv: { validation: { ...validation, accepted: true }, profile: { rows: 10 } } },
      now,
    );

    // Assess
    expect(item).toMatchObject({
      pk: 'b/incoming/orders/jan.csv',
      sk: 'v1#1',
      versionTag: 'v1',
      attempt: 1,
      status: 'SUCCEEDED',
      statusAt: 'SUCCEEDED#2026-11-22T10:00:03.500Z',
      outputs: validation.outputs,
      error: null,
      durationMs: 2500,
    });
    expect(aggregate).toMatchObject({
      recordId: 'abc',
      outcome: 'SUCCEEDED',
      rows: 10,
      invalidRows: 2,
      variants: null,
    });
  });

  it('counts a failure as QUARANTINED once its copy is safe, with the Lambda error message', () => {
    // Act
    const { item } = finalOutcome(
      {
        ...base,
        csv: { validation, profile: null },
        error: {
          Error: 'InvalidCsvEncoding',
          Cause: JSON.stringify({ errorType: 'InvalidCsvEncoding', errorMessage: 'bad byte at 7' }),
        },
        quarantine: { key: 'quarantine/orders/jan.csv' },
      },
      now,
    );

    // Assess
    expect(item.status).toBe('QUARANTINED');
    expect(item.error).toEqual({ name: 'InvalidCsvEncoding', message: 'bad byte at 7' });
    expect(item.outputs).toContain('quarantine/orders/jan.csv');
  });

  it('counts a failure as FAILED when even the quarantine copy failed', () => {
    // Act
    const { item, aggregate } = finalOutcome(
      {
        ...base,
        error: { Error: 'States.Timeout', Cause: 'took too long' },
        quarantineError: { Error: 'TransientError' },
      },
      now,
    );

    // Assess
    expect(item.status).toBe('FAILED');
    expect(item.error).toEqual({ name: 'States.Timeout', message: 'took too long' });
    expect(aggregate.errorName).toBe('States.Timeout');
  });

  it('sums the variants of every image group', () => {
    // Prepare
    const source = {
      width: 10,
      height: 5,
      format: 'jpeg',
      orientation: null,
      detectedType: 'jpeg',
      extensionMismatch: false,
    };
    const variant = { key: 'v/a.jpg', width: 2, height: 1, format: 'jpeg', bytes: 9 };

    // Act
    const { item, aggregate } = finalOutcome(
      {
        ...base,
        file: { ...base.file, kind: 'image' },
        image: [
          { group: 'jpeg', source, variants: [variant, variant] },
          { group: 'webp', source, variants: [variant] },
        ],
      },
      now,
    );

    // Assess
    expect(aggregate.variants).toBe(3);
    expect(item.outputs).toHaveLength(3);
  });
});

describe('quarantineKey and recordedError', () => {
  it('keeps the path under incoming/ and reads plain causes', () => {
    // Assess
    expect(quarantineKey('incoming/a/b c.png')).toBe('quarantine/a/b c.png');
    expect(recordedError({ Error: 'UnsupportedFileType' })).toEqual({
      name: 'UnsupportedFileType',
      message: 'UnsupportedFileType',
    });
  });
});
