import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { putAllRecords } from '#commons/helpers/put-records.ts';
import type { LedgerItem } from '#commons/outcome.ts';
import type { AggregateRecord } from '#commons/types.ts';
import { localKinesisClient } from '#local/emulators/kinesis.ts';
import { FaultLayer } from '#local/faults/fault-layer.ts';
import { type FaultRule, parseFaultRules } from '#local/faults/rules.ts';
import { LocalStack } from '#local/stack/stack.ts';
import { runFiles } from '../../cli/ops/run-files.ts';
import { until } from '../cli/ops-helpers.ts';

const FINAL = new Set(['SUCCEEDED', 'QUARANTINED', 'FAILED']);
const faults = new FaultLayer();
let stack: LocalStack;
let upload = 0;

beforeAll(async () => {
  // Five receives 10, 30, 90 and 270 ms apart fit inside one short burst of faults, which no
  // queue with a real visibility timeout would meet: the chaos run's redeliveries are spread
  // over some 8 s instead.
  stack = await LocalStack.start({ faults, retryIntervalMs: 10, queueVisibilityTimeoutMs: 200 });
  await stack.s3.send(
    new PutObjectCommand({
      Bucket: stack.names.bucketName,
      Key: 'schemas/tables.json',
      Body: JSON.stringify({
        fields: [
          { name: 'id', type: 'integer' },
          { name: 'name', type: 'string' },
        ],
      }),
    }),
  );
});

afterEach(async () => {
  faults.setRules([]);
  await stack.waitForIdle();
});

afterAll(async () => {
  await stack?.close();
});

const arm = (rules: unknown) => faults.setRules(parseFaultRules(rules));

/** How often the layer has applied an effect so far. */
const injected = (service: string, operation: string, effect: string) =>
  faults
    .report()
    .injected.faults.filter(
      (f) => f.service === service && f.operation === operation && f.effect === effect,
    )
    .reduce((sum, f) => sum + f.count, 0);

/** Uploads a small valid CSV under a fresh key and returns the key. */
async function uploadCsv(name = `file-${++upload}`): Promise<string> {
  const key = `incoming/tables/${name}.csv`;
  await stack.s3.send(
    new PutObjectCommand({
      Bucket: stack.names.bucketName,
      Key: key,
      Body: `id,name\n1,${name}\n`,
    }),
  );
  return key;
}

/** Uploads a CSV while the S3 → SQS bridge hands its event to `deliver` instead of the queue. */
async function uploadThrough(
  deliver: (body: string, send: (body: string) => void) => void,
): Promise<string> {
  const queue = stack.queue as { send(body: string): void };
  const send = queue.send.bind(stack.queue);
  queue.send = (body) => deliver(body, send);
  try {
    return await uploadCsv();
  } finally {
    queue.send = send;
  }
}

async function ledgerOf(key: string) {
  const items = await stack.ledger.history(stack.names.bucketName, key);
  return {
    finals: items.filter((item) => FINAL.has(item.status)),
    duplicates: items.filter((item) => item.status === 'SKIPPED_DUPLICATE'),
  };
}

/** Every aggregate record Firehose has landed, by file key. */
async function landedAggregates(): Promise<Map<string, AggregateRecord[]>> {
  const byKey = new Map<string, AggregateRecord[]>();
  let token: string | undefined;
  do {
    const page = await stack.s3.send(
      new ListObjectsV2Command({
        Bucket: stack.names.bucketName,
        Prefix: 'aggregates/',
        ContinuationToken: token,
      }),
    );
    for (const object of page.Contents ?? []) {
      const body = await stack.s3.send(
        new GetObjectCommand({ Bucket: stack.names.bucketName, Key: object.Key }),
      );
      for (const line of (await body.Body?.transformToString())?.split('\n') ?? []) {
        if (line === '') continue;
        const record = JSON.parse(line) as AggregateRecord;
        byKey.set(record.key, [...(byKey.get(record.key) ?? []), record]);
      }
    }
    token = page.NextContinuationToken;
  } while (token);
  return byKey;
}

describe('duplicate events', () => {
  it('the same S3 event delivered 3 times in one batch gives one execution and two SKIPPED_DUPLICATE items', async () => {
    // Act: the bridge delivers every event three times, back to back.
    const key = await uploadThrough((body, send) => {
      for (let i = 0; i < 3; i++) send(body);
    });
    await stack.waitForIdle();

    // Assess
    const { finals, duplicates } = await ledgerOf(key);
    expect(finals.map((item) => item.status)).toEqual(['SUCCEEDED']);
    expect(duplicates).toHaveLength(2);
    expect(new Set(duplicates.map((item) => item.sk)).size).toBe(2);
  });

  it('the same event delivered twice more after its execution finished gives two SKIPPED_DUPLICATE items', async () => {
    // Prepare
    const sent: string[] = [];
    const key = await uploadThrough((body, send) => {
      sent.push(body);
      send(body);
    });
    await stack.waitForIdle();

    // Act
    stack.queue.send(sent[0] as string);
    stack.queue.send(sent[0] as string);
    await stack.waitForIdle();

    // Assess
    const { finals, duplicates } = await ledgerOf(key);
    expect(finals).toHaveLength(1);
    expect(duplicates).toHaveLength(2);
  });
});

describe('ambiguous writes: applied, but the answer was lost', () => {
  it.each([
    ['Claim', { service: 'dynamodb', operation: 'PutItem', times: 1 }],
    ['RecordOutcome', { service: 'dynamodb', operation: 'PutItem', afterCalls: 1, times: 1 }],
  ])('%s: the retried conditional put is the same claim, not a duplicate', async (_, rule) => {
    // Prepare
    arm([{ ...rule, commitThenReset: true }]);
    const before = injected('dynamodb', 'PutItem', 'commitThenReset');

    // Act
    const key = await uploadCsv();
    await stack.waitForIdle();

    // Assess
    expect(injected('dynamodb', 'PutItem', 'commitThenReset')).toBe(before + 1);
    const { finals, duplicates } = await ledgerOf(key);
    expect(finals.map((item) => item.status)).toEqual(['SUCCEEDED']);
    expect(duplicates).toEqual([]);
  });

  it.each([
    [
      'StartExecution, retried by the SDK',
      { service: 'stepfunctions', operation: 'StartExecution' },
    ],
    ['the start function, redelivered by the queue', { service: 'lambda', operation: 'Invoke' }],
  ])('%s: "already started", not a duplicate', async (_, rule) => {
    // Prepare
    arm([{ ...rule, times: 1, commitThenReset: true }]);
    const before = injected(rule.service, rule.operation, 'commitThenReset');

    // Act
    const key = await uploadCsv();
    await stack.waitForIdle();

    // Assess
    expect(injected(rule.service, rule.operation, 'commitThenReset')).toBe(before + 1);
    const { finals, duplicates } = await ledgerOf(key);
    expect(finals.map((item) => item.status)).toEqual(['SUCCEEDED']);
    expect(duplicates).toEqual([]);
    expect(stack.queue.deadLetters).toEqual([]);
  });

  it('a redelivery of the same message after its execution finished is "already started", not a duplicate', async () => {
    // Prepare: keep the SQS event the start function was given.
    const runtime = stack.runtime as { invoke(id: string, input: unknown): Promise<unknown> };
    const invoke = runtime.invoke.bind(stack.runtime);
    const events: unknown[] = [];
    runtime.invoke = (id, input) => {
      if (id === 'StartExecution') events.push(input);
      return invoke(id, input);
    };
    let key: string;
    try {
      key = await uploadCsv();
      await stack.waitForIdle();
    } finally {
      runtime.invoke = invoke;
    }

    // Act: the queue delivers the same message again, as SQS does when a batch's answer is lost.
    const response = await stack.runtime.invoke('StartExecution', events[0]);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    const { finals, duplicates } = await ledgerOf(key);
    expect(finals.map((item) => item.status)).toEqual(['SUCCEEDED']);
    expect(duplicates).toEqual([]);
  });

  it('a malformed event fails its own record alone, and is logged', async () => {
    // Prepare
    const good = await uploadCsv();
    await stack.waitForIdle();
    const record = (messageId: string, body: string) => ({
      messageId,
      receiptHandle: messageId,
      body,
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: String(Date.now()),
        SenderId: 'events.amazonaws.com',
        ApproximateFirstReceiveTimestamp: String(Date.now()),
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:sluice-uploads',
      awsRegion: 'us-east-1',
    });

    // Act
    const response = await stack.runtime.invoke('StartExecution', {
      Records: [
        record('not-json', '{"detail-type": "Object Created",'),
        record('no-etag', JSON.stringify({ 'detail-type': 'Object Created', detail: {} })),
      ],
    });

    // Assess
    expect(response).toEqual({
      batchItemFailures: [{ itemIdentifier: 'not-json' }, { itemIdentifier: 'no-etag' }],
    });
    expect((await ledgerOf(good)).duplicates).toEqual([]);
    // The function's stdout reaches its log file a moment after it answers.
    const failures = () =>
      readFileSync(join(stack.logDir, 'StartExecution.log'), 'utf8')
        .split('\n')
        .filter((line) => line.includes('could not start an execution'))
        .map((line) => JSON.parse(line) as { messageId: string; error: { message: string } });
    await until(() => failures().length >= 2);
    const log = failures();
    expect(log.map((line) => line.messageId)).toEqual(['not-json', 'no-etag']);
    expect(log[1]?.error.message).toMatch(/detail/);
  });

  it('PutRecords: a retried put may land the aggregate twice, with one recordId to drop it by', async () => {
    // Prepare
    arm([{ service: 'kinesis', operation: 'PutRecords', times: 1, commitThenReset: true }]);

    // Act
    const key = await uploadCsv();
    await stack.waitForIdle();

    // Assess
    const records = (await landedAggregates()).get(key) ?? [];
    expect(records).toHaveLength(2);
    expect(new Set(records.map((record) => record.recordId)).size).toBe(1);
    expect((await ledgerOf(key)).finals).toHaveLength(1);
  });

  it('PutRecords: a record refused inside an HTTP 200 is sent again, and lands once', async () => {
    // Prepare
    arm([
      {
        service: 'kinesis',
        operation: 'PutRecords',
        times: 1,
        recordFailures: { code: 'ProvisionedThroughputExceededException', fraction: 1 },
      },
    ]);

    // Act
    const key = await uploadCsv();
    await stack.waitForIdle();

    // Assess
    expect((await landedAggregates()).get(key)).toHaveLength(1);
  });

  it('putAllRecords resends only the entries Kinesis refused', async () => {
    // Prepare
    arm([
      {
        service: 'kinesis',
        operation: 'PutRecords',
        seed: 11,
        probability: 0.6,
        recordFailures: { code: 'ProvisionedThroughputExceededException', fraction: 0.5 },
      },
    ]);
    const kinesis = localKinesisClient(stack.endpoints.kinesis);
    const ids = Array.from({ length: 10 }, (_, i) => `resend-${i}`);
    const entries: PutRecordsRequestEntry[] = ids.map((recordId) => ({
      Data: new TextEncoder().encode(
        `${JSON.stringify({ recordId, key: `incoming/resend/${recordId}`, dataset: 'resend' })}\n`,
      ),
      PartitionKey: recordId,
    }));

    // Act
    try {
      await putAllRecords(kinesis, stack.names.streamName, entries);
    } finally {
      kinesis.destroy();
    }
    faults.setRules([]);
    await stack.waitForIdle();

    // Assess
    expect(injected('kinesis', 'PutRecords', 'recordFailures')).toBeGreaterThan(0);
    const landed = await landedAggregates();
    for (const recordId of ids) {
      expect(landed.get(`incoming/resend/${recordId}`)).toHaveLength(1);
    }
  });
});

describe('uploads under faults', () => {
  it('an upload refused more often than the SDK retries is tried again, and its file finishes', async () => {
    // Prepare: 9 refusals in a row, more than the S3 client's 5 attempts.
    const dir = mkdtempSync(join(tmpdir(), 'sluice-upload-faults-'));
    mkdirSync(join(dir, 'tables'));
    writeFileSync(join(dir, 'tables/refused.csv'), 'id,name\n1,refused\n');
    arm([{ service: 's3', operation: 'PutObject', times: 9, error: { code: 'SlowDown' } }]);

    // Act
    const outcomes = await runFiles(stack, dir);

    // Assess
    expect(injected('s3', 'PutObject', 'error')).toBeGreaterThanOrEqual(9);
    expect(outcomes.map((o) => [o.key, o.status])).toEqual([
      ['incoming/tables/refused.csv', 'SUCCEEDED'],
    ]);
  });
});

/** 10 % of the calls to every service fail, a mix of every effect, ambiguous writes included. */
function chaosRules(seed: number): FaultRule[] {
  const mix = (service: string, effects: readonly object[]) =>
    effects.map((effect, i) => ({ service, probability: 0.02, seed: seed * 100 + i, ...effect }));
  return parseFaultRules([
    ...mix('s3', [
      { error: { code: 'SlowDown' } },
      { error: { code: 'InternalError' } },
      { reset: true },
      { commitThenReset: true },
      { latency: 20 },
    ]),
    ...mix('dynamodb', [
      { error: { code: 'ProvisionedThroughputExceededException' } },
      { error: { code: 'ThrottlingException' } },
      { error: { code: 'InternalServerError' } },
      { reset: true },
      { commitThenReset: true },
    ]),
    ...mix('kinesis', [
      {
        operation: 'PutRecords',
        probability: 0.04,
        recordFailures: { code: 'ProvisionedThroughputExceededException' },
      },
      { error: { code: 'ProvisionedThroughputExceededException' } },
      { reset: true },
      { commitThenReset: true },
    ]),
    ...mix('stepfunctions', [
      { error: { code: 'ThrottlingException' } },
      { reset: true },
      { commitThenReset: true },
      { latency: 20 },
      { error: { code: 'ThrottlingException' } },
    ]),
    ...mix('lambda', [
      { error: { code: 'TooManyRequestsException' } },
      { error: { code: 'ServiceException' } },
      { reset: true },
      { commitThenReset: true },
      { latency: 20 },
    ]),
  ]);
}

describe('a seeded chaos run', () => {
  it('100 files under 10 % faults on every service: none lost, none twice, the same statuses', async () => {
    // Prepare: half PNGs, half CSVs, two of them invalid.
    const png = await sharp({
      create: { width: 32, height: 24, channels: 3, background: { r: 10, g: 120, b: 200 } },
    })
      .png()
      .toBuffer();
    const files = Array.from({ length: 100 }, (_, i) => {
      if (i % 2 === 0) {
        return {
          key: `incoming/chaos/p${i}.png`,
          body: Buffer.concat([png, Buffer.from(String(i))]),
          expected: 'SUCCEEDED',
        };
      }
      const invalid = i === 7 || i === 51;
      const rows = Array.from({ length: 20 }, (_, row) => `${invalid ? `x${row}` : row},row ${i}`);
      return {
        key: `incoming/tables/chaos-${i}.csv`,
        body: Buffer.from(`id,name\n${rows.join('\n')}\n`),
        expected: invalid ? 'QUARANTINED' : 'SUCCEEDED',
      };
    });
    faults.setRules(chaosRules(7));
    const before = faults.report().injected.total;

    // Act
    for (const file of files) {
      await stack.s3.send(
        new PutObjectCommand({ Bucket: stack.names.bucketName, Key: file.key, Body: file.body }),
      );
    }
    await stack.waitForIdle();
    faults.setRules([]);
    await stack.waitForIdle();

    // Assess
    expect(faults.report().injected.total - before).toBeGreaterThan(50);
    const statuses = await Promise.all(
      files.map(async (file) => {
        const { finals } = await ledgerOf(file.key);
        return { key: file.key, statuses: finals.map((item: LedgerItem) => item.status) };
      }),
    );
    expect(statuses).toEqual(files.map((file) => ({ key: file.key, statuses: [file.expected] })));
    const landed = await landedAggregates();
    for (const file of files) {
      expect(new Set(landed.get(file.key)?.map((record) => record.recordId)).size).toBe(1);
    }
    expect(stack.queue.deadLetters).toEqual([]);
  });
});
