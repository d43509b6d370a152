import { describe, expect, it } from 'vitest';
import { InvalidOption, StackNotFound } from '../../cli/ops/errors.ts';
import { formatTable } from '../../cli/ops/output.ts';
import { namesFromStackOutputs } from '../../cli/ops/target.ts';
import { parseSince } from '../../cli/ops/time.ts';

describe('--since', () => {
  const now = new Date('2026-03-10T12:00:00.000Z');

  it('reads spans back from now and ISO times', () => {
    // Act and assess
    expect(parseSince('30m', now).toISOString()).toBe('2026-03-10T11:30:00.000Z');
    expect(parseSince('1h', now).toISOString()).toBe('2026-03-10T11:00:00.000Z');
    expect(parseSince('2d', now).toISOString()).toBe('2026-03-08T12:00:00.000Z');
    expect(parseSince('90s', now).toISOString()).toBe('2026-03-10T11:58:30.000Z');
    expect(parseSince('2026-03-01', now).toISOString()).toBe('2026-03-01T00:00:00.000Z');
    expect(parseSince('2026-03-01T08:15:00+01:00', now).toISOString()).toBe(
      '2026-03-01T07:15:00.000Z',
    );
  });

  it('refuses anything else with a usage error that shows the forms', () => {
    // Act and assess
    for (const value of ['yesterday', '1y', '-1h', '10', '2026-13-45']) {
      expect(() => parseSince(value, now)).toThrow(InvalidOption);
    }
    expect(() => parseSince('soon', now)).toThrow(/30m, 1h, 2d/);
  });
});

describe('a deployed stack by its CloudFormation outputs', () => {
  it("maps sluice's outputs to the names the commands use", () => {
    // Prepare
    const outputs = [
      { OutputKey: 'BucketName', OutputValue: 'prod-bucket' },
      { OutputKey: 'TableName', OutputValue: 'prod-ledger' },
      { OutputKey: 'StateMachineArn', OutputValue: 'arn:aws:states:eu-west-1:1:stateMachine:pf' },
      { OutputKey: 'StreamName', OutputValue: 'prod-aggregates' },
      { OutputKey: 'DeadLetterQueueUrl', OutputValue: 'https://sqs/dlq' },
    ];

    // Act
    const names = namesFromStackOutputs('prod', outputs);

    // Assess
    expect(names).toEqual({
      bucket: 'prod-bucket',
      table: 'prod-ledger',
      stream: 'prod-aggregates',
      deadLetterQueue: 'https://sqs/dlq',
      stateMachines: { ProcessFile: 'arn:aws:states:eu-west-1:1:stateMachine:pf' },
    });
  });

  it('says which outputs a stack that is not sluice lacks', () => {
    // Act and assess
    expect(() =>
      namesFromStackOutputs('other', [{ OutputKey: 'BucketName', OutputValue: 'b' }]),
    ).toThrow(StackNotFound);
    expect(() => namesFromStackOutputs('other', [])).toThrow(
      'stack other has no BucketName, TableName, StateMachineArn output',
    );
    expect(
      namesFromStackOutputs('old', [
        { OutputKey: 'BucketName', OutputValue: 'b' },
        { OutputKey: 'TableName', OutputValue: 't' },
        { OutputKey: 'StateMachineArn', OutputValue: 'arn' },
      ]).stream,
    ).toBeNull();
  });
});

describe('the table renderer', () => {
  it('sizes columns to their widest cell and indents details under their row', () => {
    // Act
    const text = formatTable(
      ['KEY', 'STATUS'],
      [['incoming/a.csv', 'SUCCEEDED'], { cells: ['b', 'FAILED'], details: ['Boom: it broke'] }],
    );

    // Assess
    expect(text.split('\n')).toEqual([
      'KEY             STATUS',
      'incoming/a.csv  SUCCEEDED',
      'b               FAILED',
      '    Boom: it broke',
    ]);
  });
});
