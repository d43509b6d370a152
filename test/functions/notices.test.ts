import { afterEach, describe, expect, it, vi } from 'vitest';
import type { BatchSummary } from '#commons/batch.ts';
import { publishNotice } from '#commons/helpers/notices.ts';
import { batchNotice, executionLink, fileNotice } from '#commons/notices.ts';
import type { LedgerItem } from '#commons/outcome.ts';
import { MessageLog, startLocalSns } from '#local/emulators/sns.ts';

const EXECUTION = 'arn:aws:states:eu-west-1:123456789012:execution:sluice-ProcessFile:abc';

const item = (overrides: Partial<LedgerItem>): LedgerItem => ({
  pk: 'b/incoming/orders/a.csv',
  sk: 'etag#1',
  bucket: 'b',
  key: 'incoming/orders/a.csv',
  versionTag: 'etag',
  attempt: 1,
  dataset: 'orders',
  kind: 'csv',
  size: 10,
  status: 'QUARANTINED',
  statusAt: 'QUARANTINED#2026-12-03T10:00:00.000Z',
  outputs: [],
  summary: null,
  error: { name: 'CsvRejected', message: '2 of 3 rows are invalid' },
  executionId: EXECUTION,
  receivedAt: '2026-12-03T09:59:59.000Z',
  startedAt: '2026-12-03T10:00:00.000Z',
  finishedAt: '2026-12-03T10:00:01.000Z',
  ...overrides,
});

const summary = (overrides: Partial<BatchSummary>): BatchSummary => ({
  batchId: 'orders-nightly-2026-12-03T02:00:00Z',
  prefix: 'incoming/orders/',
  mode: 'new',
  schedule: 'orders-nightly',
  files: 20,
  counts: { SUCCEEDED: 15, FAILED: 5 },
  failurePercentage: 25,
  exceeded: true,
  startDate: '2026-12-03T02:00:00.000Z',
  stopDate: '2026-12-03T02:05:00.000Z',
  summaryKey: 'batches/x.json',
  executionArn: EXECUTION,
  ...overrides,
});

describe('fileNotice', () => {
  it.each([
    ['QUARANTINED', 'FileQuarantined'],
    ['FAILED', 'FileFailed'],
  ] as const)(
    'tells of a %s file as %s, with its dataset, key, error and execution',
    (status, kind) => {
      // Act
      const notice = fileNotice(item({ status }));

      // Assess
      expect(notice).toEqual({
        kind,
        subject: `sluice: ${status} incoming/orders/a.csv (CsvRejected)`,
        body: {
          kind,
          dataset: 'orders',
          key: 'incoming/orders/a.csv',
          status,
          error: { name: 'CsvRejected', message: '2 of 3 rows are invalid' },
          executionArn: EXECUTION,
          link: `https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${EXECUTION}`,
          show: 'sluice show incoming/orders/a.csv',
          at: '2026-12-03T10:00:01.000Z',
        },
      });
    },
  );

  it.each(['SUCCEEDED', 'SKIPPED_DUPLICATE', 'PROCESSING'] as const)(
    'is silent for %s',
    (status) => {
      expect(fileNotice(item({ status, error: null }))).toBeUndefined();
    },
  );

  it('keeps the subject within the 100 characters SNS allows', () => {
    // Act
    const notice = fileNotice(item({ key: `incoming/orders/${'x'.repeat(200)}.csv` }));

    // Assess
    expect(notice?.subject).toHaveLength(100);
    expect(notice?.subject.endsWith('…')).toBe(true);
  });
});

describe('batchNotice', () => {
  it('tells of a batch over its tolerance, with its prefix and counts', () => {
    expect(batchNotice(summary({}))?.body).toMatchObject({
      kind: 'BatchOverTolerance',
      key: 'incoming/orders/',
      status: '5 of 20 files FAILED',
      executionArn: EXECUTION,
    });
  });

  it('is silent for a batch within its tolerance', () => {
    expect(batchNotice(summary({ exceeded: false, failurePercentage: 5 }))).toBeUndefined();
  });

  it('links an execution to the console of its own region', () => {
    expect(executionLink('arn:aws:states:ap-south-1:1:execution:m:n')).toMatch(
      /^https:\/\/ap-south-1\.console\.aws\.amazon\.com\/states\/home\?region=ap-south-1#/,
    );
  });
});

describe('publishNotice', () => {
  const TOPIC = 'arn:aws:sns:us-east-1:000000000000:sluice-notices';

  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  const stubEnv = (endpoint: string, topic: string) => {
    vi.stubEnv('AWS_ENDPOINT_URL_SNS', endpoint);
    vi.stubEnv('NOTICE_TOPIC_ARN', topic);
    vi.stubEnv('AWS_REGION', 'us-east-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
  };

  it('publishes to the topic, and only logs a refusal that retrying cannot mend', async () => {
    // Prepare: the topic's log, and the output streams its logger writes to.
    const log = new MessageLog();
    const sns = await startLocalSns({ topicArn: TOPIC, log });
    const lines: string[] = [];
    for (const stream of [process.stdout, process.stderr]) {
      vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
        lines.push(String(chunk));
        return true;
      });
    }
    const notice = fileNotice(item({})) as NonNullable<ReturnType<typeof fileNotice>>;

    // Act
    stubEnv(sns.endpoint, TOPIC);
    await publishNotice(notice);
    // SNS refuses a subject over 100 characters: a client error, which retrying cannot mend.
    const refused = await publishNotice({ ...notice, subject: 's'.repeat(101) }).then(
      () => 'resolved',
      (error: Error) => error.name,
    );
    await sns.close();

    // Assess
    expect(log.list().map((message) => JSON.parse(message.message))).toEqual([notice.body]);
    expect(log.list()[0]?.attributes).toEqual({ kind: 'FileQuarantined', dataset: 'orders' });
    expect(refused).toBe('resolved');
    expect(lines.join('')).toContain('"message":"notice not published"');
  });
});
