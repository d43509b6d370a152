import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import {
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { GetExecutionHistoryCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { ListTopicsCommand, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { isThrottlingError, isTransientError } from '@smithy/service-error-classification';
import type { SdkError } from '@smithy/types';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#local/emulators/endpoint.ts';
import { FaultLayer } from '#local/faults/fault-layer.ts';
import { parseFaultRules } from '#local/faults/rules.ts';
import { LocalStack } from '#local/stack/stack.ts';

const faults = new FaultLayer();
let stack: LocalStack;
/** SDK v3 clients given only an endpoint, with no retries: each sees the injected fault itself. */
const config = (endpoint: string) => ({
  endpoint,
  region: LOCAL_REGION,
  credentials: LOCAL_CREDENTIALS,
  maxAttempts: 1,
});
let s3: S3Client;
let dynamodb: DynamoDBClient;
let kinesis: KinesisClient;
let sfn: SFNClient;
let sns: SNSClient;

beforeAll(async () => {
  stack = await LocalStack.start({ faults, retryIntervalMs: 10 });
  s3 = new S3Client({ ...config(stack.endpoints.s3), forcePathStyle: true });
  dynamodb = new DynamoDBClient(config(stack.endpoints.dynamodb));
  kinesis = new KinesisClient({
    ...config(stack.endpoints.kinesis),
    requestHandler: new NodeHttpHandler(),
  });
  sfn = new SFNClient(config(stack.endpoints.sfn));
  sns = new SNSClient(config(stack.endpoints.sns));
});

afterEach(() => faults.setRules([]));

afterAll(async () => {
  for (const client of [s3, dynamodb, kinesis, sfn, sns]) client.destroy();
  await stack?.close();
});

const arm = (rules: unknown) => faults.setRules(parseFaultRules(rules));

async function failureOf(call: Promise<unknown>): Promise<SdkError & { code?: string }> {
  try {
    await call;
  } catch (error) {
    return error as SdkError & { code?: string };
  }
  throw new Error('the call succeeded; a fault was expected');
}

const bucket = () => stack.names.bucketName;
const ledgerKey = (pk: string) => ({ pk: { S: pk }, sk: { S: 'fault-test' } });

describe('the fault layer, as SDK v3 sees it', () => {
  it.each([
    ['s3', 'PutObject', 'SlowDown', 503, 'throttling'],
    ['s3', 'GetObject', 'InternalError', 500, 'transient'],
    ['dynamodb', 'PutItem', 'ProvisionedThroughputExceededException', 400, 'throttling'],
    ['dynamodb', 'PutItem', 'ThrottlingException', 400, 'throttling'],
    ['dynamodb', 'PutItem', 'RequestLimitExceeded', 400, 'throttling'],
    ['dynamodb', 'PutItem', 'InternalServerError', 500, 'transient'],
    ['kinesis', 'PutRecords', 'ProvisionedThroughputExceededException', 400, 'throttling'],
    ['stepfunctions', 'ListExecutions', 'ThrottlingException', 400, 'throttling'],
  ] as const)(
    '%s %s answers %s (%i) in its wire format',
    async (service, operation, code, status, kind) => {
      // Prepare
      arm([{ service, operation, error: { code } }]);
      const calls = {
        s3: () =>
          operation === 'PutObject'
            ? s3.send(new PutObjectCommand({ Bucket: bucket(), Key: 'faults/a.txt', Body: 'a' }))
            : s3.send(new GetObjectCommand({ Bucket: bucket(), Key: 'faults/a.txt' })),
        dynamodb: () =>
          dynamodb.send(
            new PutItemCommand({ TableName: stack.names.tableName, Item: ledgerKey('error') }),
          ),
        kinesis: () =>
          kinesis.send(
            new PutRecordsCommand({
              StreamName: stack.names.streamName,
              Records: [{ Data: new Uint8Array([1]), PartitionKey: 'p' }],
            }),
          ),
        stepfunctions: () =>
          sfn.send(new ListExecutionsCommand({ stateMachineArn: stack.names.stateMachineArn })),
      };

      // Act
      const error = await failureOf(calls[service]());

      // Assess
      expect(error.name).toBe(code);
      expect(error.$metadata?.httpStatusCode).toBe(status);
      expect(kind === 'throttling' ? isThrottlingError(error) : isTransientError(error)).toBe(true);
      expect(faults.report().injected.faults).toContainEqual({
        service,
        operation,
        effect: 'error',
        code,
        count: 1,
      });
    },
  );

  it('resets the connection before the request reaches the emulator: nothing is written', async () => {
    // Prepare
    arm([{ service: 's3', operation: 'PutObject', reset: true }]);

    // Act
    const error = await failureOf(
      s3.send(new PutObjectCommand({ Bucket: bucket(), Key: 'faults/reset.txt', Body: 'r' })),
    );
    faults.setRules([]);

    // Assess
    expect(isTransientError(error)).toBe(true);
    const head = await failureOf(
      s3.send(new HeadObjectCommand({ Bucket: bucket(), Key: 'faults/reset.txt' })),
    );
    expect(head.name).toBe('NotFound');
  });

  it.each([
    ['dynamodb', 'PutItem'],
    ['s3', 'PutObject'],
  ] as const)(
    'commits %s %s, then resets: the write is there, the client cannot know',
    async (service, operation) => {
      // Prepare
      arm([{ service, operation, commitThenReset: true }]);

      // Act
      const error = await failureOf(
        service === 's3'
          ? s3.send(
              new PutObjectCommand({ Bucket: bucket(), Key: 'faults/ambiguous.txt', Body: 'x' }),
            )
          : dynamodb.send(
              new PutItemCommand({
                TableName: stack.names.tableName,
                Item: ledgerKey('ambiguous'),
              }),
            ),
      );
      faults.setRules([]);

      // Assess
      expect(isTransientError(error)).toBe(true);
      if (service === 's3') {
        const head = await s3.send(
          new HeadObjectCommand({ Bucket: bucket(), Key: 'faults/ambiguous.txt' }),
        );
        expect(head.ContentLength).toBe(1);
      } else {
        const item = await dynamodb.send(
          new GetItemCommand({ TableName: stack.names.tableName, Key: ledgerKey('ambiguous') }),
        );
        expect(item.Item?.pk?.S).toBe('ambiguous');
      }
    },
  );

  it('fails some PutRecords entries inside an HTTP 200, and only the others reach the stream', async () => {
    // Prepare
    arm([
      {
        service: 'kinesis',
        operation: 'PutRecords',
        seed: 3,
        recordFailures: { code: 'ProvisionedThroughputExceededException', fraction: 0.5 },
      },
    ]);
    const { ShardIterator } = await kinesis.send(
      new GetShardIteratorCommand({
        StreamName: stack.names.streamName,
        ShardId: 'shardId-000000000000',
        ShardIteratorType: 'LATEST',
      }),
    );
    const sent = Array.from({ length: 8 }, (_, i) => `record-${i}`);

    // Act
    const response = await kinesis.send(
      new PutRecordsCommand({
        StreamName: stack.names.streamName,
        Records: sent.map((text) => ({ Data: new TextEncoder().encode(text), PartitionKey: text })),
      }),
    );
    faults.setRules([]);

    // Assess
    expect(response.$metadata.httpStatusCode).toBe(200);
    const failed = (response.Records ?? []).flatMap((entry, i) =>
      entry.ErrorCode ? [sent[i]] : [],
    );
    expect(response.FailedRecordCount).toBe(failed.length);
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.length).toBeLessThan(sent.length);
    expect(response.Records?.filter((entry) => entry.SequenceNumber)).toHaveLength(
      sent.length - failed.length,
    );
    const page = await kinesis.send(new GetRecordsCommand({ ShardIterator }));
    const stored = (page.Records ?? [])
      .map((record) => new TextDecoder().decode(record.Data))
      .filter((text) => text.startsWith('record-'));
    expect(stored).toEqual(sent.filter((text) => !failed.includes(text)));
  });

  it('adds latency and then lets the call through', async () => {
    // Prepare
    arm([{ service: 'dynamodb', operation: 'GetItem', latency: 50 }]);

    // Act
    const item = await dynamodb.send(
      new GetItemCommand({ TableName: stack.names.tableName, Key: ledgerKey('nothing') }),
    );

    // Assess
    expect(item.$metadata.httpStatusCode).toBe(200);
    expect(faults.report().injected.faults).toContainEqual(
      expect.objectContaining({ service: 'dynamodb', operation: 'GetItem', effect: 'latency' }),
    );
  });

  it('applies a rule only inside its window and only as often as it says', async () => {
    // Prepare
    arm([
      { service: 'dynamodb', operation: 'GetItem', startMs: 60_000, reset: true },
      {
        service: 'dynamodb',
        operation: 'GetItem',
        afterCalls: 1,
        times: 1,
        error: { code: 'ThrottlingException' },
      },
    ]);
    const get = () =>
      dynamodb.send(new GetItemCommand({ TableName: stack.names.tableName, Key: ledgerKey('w') }));

    // Act
    const first = await get();
    const second = await failureOf(get());
    const third = await get();

    // Assess
    expect(first.$metadata.httpStatusCode).toBe(200);
    expect(second.name).toBe('ThrottlingException');
    expect(third.$metadata.httpStatusCode).toBe(200);
  });

  it.each([
    ['TooManyRequestsException', { error: { code: 'TooManyRequestsException' } }],
    ['ServiceException', { error: { code: 'ServiceException' } }],
    ['SdkClientException', { reset: true }],
    ['SdkClientException', { commitThenReset: true }],
  ])('fails a Lambda invoke with Lambda.%s, which the ASL retries', async (code, effect) => {
    // Prepare: the start function's invoke is the first; the next is a task of the execution.
    arm([{ service: 'lambda', operation: 'Invoke', afterCalls: 1, times: 1, ...effect }]);
    const key = `incoming/faults/${code}-${Object.keys(effect)[0]}.csv`;

    // Act
    await stack.s3.send(new PutObjectCommand({ Bucket: bucket(), Key: key, Body: 'id\n1\n' }));
    await stack.waitForIdle();

    // Assess
    const [item] = await stack.ledger.history(bucket(), key);
    expect(item?.status).toBe('SUCCEEDED');
    const history = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn: item?.executionId }),
    );
    const failures = (history.events ?? []).flatMap((event) =>
      event.taskFailedEventDetails ? [event.taskFailedEventDetails.error] : [],
    );
    expect(failures).toEqual([`Lambda.${code}`]);
  });

  it('answers SNS Publish with its Query XML error, and lets ListTopics through', async () => {
    // Prepare
    arm([{ service: 'sns', operation: 'Publish', error: { code: 'Throttling' } }]);
    const topicArn = stack.names.noticeTopicArn;
    const before = stack.notices.list().length;

    // Act
    const error = await failureOf(
      sns.send(new PublishCommand({ TopicArn: topicArn, Message: 'throttled' })),
    );
    const topics = await sns.send(new ListTopicsCommand({}));

    // Assess: the SDK parsed SNS's ErrorResponse, and classes it as throttling
    expect(error.name).toBe('Throttling');
    expect(error.message).toBe('sluice fault injection: Throttling');
    expect(error.$metadata?.httpStatusCode).toBe(400);
    expect(isThrottlingError(error)).toBe(true);
    expect(topics.Topics).toEqual([{ TopicArn: topicArn }]);
    expect(stack.notices.list()).toHaveLength(before);
    expect(faults.report().injected.faults).toContainEqual({
      service: 'sns',
      operation: 'Publish',
      effect: 'error',
      code: 'Throttling',
      count: 1,
    });
  });

  it('hands SNS the body it read for the operation: a delayed Publish arrives whole', async () => {
    // Prepare
    arm([{ service: 'sns', operation: 'Publish', latency: 20 }]);
    const message = JSON.stringify({ text: 'ümlaut & <xml> = 1+1', pad: 'x'.repeat(70_000) });

    // Act
    const published = await sns.send(
      new PublishCommand({
        TopicArn: stack.names.noticeTopicArn,
        Subject: 'delayed',
        Message: message,
        MessageAttributes: { kind: { DataType: 'String', StringValue: 'Test' } },
      }),
    );

    // Assess
    const logged = stack.notices.list().find((m) => m.messageId === published.MessageId);
    expect(logged?.message).toBe(message);
    expect(logged?.subject).toBe('delayed');
    expect(logged?.attributes).toEqual({ kind: 'Test' });
    expect(faults.report().injected.faults).toContainEqual(
      expect.objectContaining({ service: 'sns', operation: 'Publish', effect: 'latency' }),
    );
  });

  it("publishes a quarantined file's notice exactly once though SNS throttled it, by the ASL's Retry", async () => {
    // Prepare: more throttles than the function's SNS client retries (3 attempts), so the task
    // fails with a TransientError and the ASL runs it again.
    arm([{ service: 'sns', operation: 'Publish', times: 4, error: { code: 'Throttling' } }]);
    const key = 'incoming/faults/empty-while-sns-throttles.csv';
    const throttled = () =>
      faults.report().injected.faults.find((f) => f.service === 'sns' && f.code === 'Throttling')
        ?.count ?? 0;
    const throttledBefore = throttled();

    // Act
    await stack.s3.send(
      new PutObjectCommand({ Bucket: bucket(), Key: key, Body: new Uint8Array(0) }),
    );
    await stack.waitForIdle();

    // Assess
    const [item] = await stack.ledger.history(bucket(), key);
    expect(item?.status).toBe('QUARANTINED');
    const notices = stack.notices
      .list()
      .map((message) => JSON.parse(message.message) as { kind: string; key: string })
      .filter((notice) => notice.key === key);
    expect(notices).toEqual([expect.objectContaining({ kind: 'FileQuarantined', key })]);
    const history = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn: item?.executionId }),
    );
    const failures = (history.events ?? []).flatMap((event) =>
      event.taskFailedEventDetails ? [event.taskFailedEventDetails.error] : [],
    );
    expect(failures).toContain('TransientError');
    expect(throttled() - throttledBefore).toBe(4);
  });
});
