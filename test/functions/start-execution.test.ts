import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { Context, SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';

// Throttling is a fault the local Step Functions API cannot produce, so this one test mocks it.
process.env.STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:ProcessFile';
process.env.TABLE_NAME = 'ledger';
const sfn = mockClient(SFNClient);
const { handler } = await import('../../functions/start-execution.ts');

const record = (messageId: string, key: string) => ({
  messageId,
  body: JSON.stringify({
    id: `event-${messageId}`,
    time: '2026-11-22T10:00:00Z',
    detail: { bucket: { name: 'b' }, object: { key, size: 1, etag: 'e' } },
  }),
});

describe('the start function', () => {
  it('returns only the throttled record to the queue and starts the others', async () => {
    // Prepare
    sfn.on(StartExecutionCommand).callsFake((input: { input?: string }) => {
      if (input.input?.includes('throttled')) {
        throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
      }
      return { executionArn: 'arn:exec', startDate: new Date() };
    });
    const event = {
      Records: [record('1', 'incoming/a/ok.csv'), record('2', 'incoming/a/throttled.csv')],
    } as unknown as SQSEvent;

    // Act
    const response = await handler(event, {} as Context);

    // Assess
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: '2' }]);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(2);
  });
});
