import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamSummaryCommand,
} from '@aws-sdk/client-kinesis';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localKinesisClient } from '#local/emulators/kinesis.ts';
import { LocalStack } from '#local/stack/stack.ts';
import { redriveCommand } from '../../cli/commands/redrive.ts';
import { replayCommand } from '../../cli/commands/replay.ts';
import { runFiles } from '../../cli/ops/run-files.ts';
import { type OpsTarget, targetFromLocalStack } from '../../cli/ops/target.ts';
import { runOps } from './ops-helpers.ts';

// One stack for the file: replay and redrive each work on files of their own.
let stack: LocalStack;
let target: OpsTarget;
let dir: string;

const STRICT = {
  fields: [
    { name: 'id', type: 'integer', constraints: { required: true } },
    { name: 'amount', type: 'number', constraints: { minimum: 0 } },
  ],
};
const RELAXED = { fields: [STRICT.fields[0], { name: 'amount', type: 'number' }] };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-replay-'));
  mkdirSync(join(dir, 'schemas'));
  mkdirSync(join(dir, 'refunds'));
  writeFileSync(join(dir, 'schemas/refunds.json'), JSON.stringify(STRICT));
  writeFileSync(join(dir, 'refunds/march.csv'), 'id,amount\n1,10\n2,-4\n');
  stack = await LocalStack.start({ retryIntervalMs: 10 });
  target = targetFromLocalStack(stack);
}, 120_000);

afterAll(async () => {
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('sluice replay', () => {
  it('re-processes a quarantined CSV after its schema is relaxed, keeping both attempts', async () => {
    // Prepare: the strict schema rejects the refund row.
    const [first] = await runFiles(stack, dir);
    expect(first?.status).toBe('QUARANTINED');
    const key = 'incoming/refunds/march.csv';
    await stack.s3.send(
      new PutObjectCommand({
        Bucket: stack.names.bucketName,
        Key: 'schemas/refunds.json',
        Body: JSON.stringify(RELAXED),
      }),
    );

    // Act
    const dryRun = await runOps(replayCommand, target, [key, '--dry-run', '-o', 'json']);
    const afterDryRun = await stack.ledger.history(stack.names.bucketName, key);
    const replay = await runOps(replayCommand, target, [
      key,
      '--status',
      'QUARANTINED',
      '-o',
      'json',
    ]);
    const again = await runOps(replayCommand, target, [
      key,
      '--status',
      'QUARANTINED',
      '-o',
      'json',
    ]);

    // Assess: the dry run plans and changes nothing; the replay succeeds as attempt 2.
    expect(dryRun.code).toBe(0);
    expect(JSON.parse(dryRun.stdout)).toEqual([
      {
        key,
        executionArn: first?.executionId,
        lastError: expect.objectContaining({ name: 'CsvRejected' }),
        action: 'replay as attempt 2',
      },
    ]);
    expect(afterDryRun.map((item) => item.status)).toEqual(['QUARANTINED']);
    expect(replay.code).toBe(0);
    const [replayed] = JSON.parse(replay.stdout);
    expect(replayed).toMatchObject({
      key,
      action: 'replay as attempt 2',
      result: { attempt: 2, status: 'SUCCEEDED', error: null },
    });
    expect(replayed.result.executionArn).toMatch(/-2$/);
    const history = await stack.ledger.history(stack.names.bucketName, key);
    expect(history.map((item) => [item.attempt, item.status])).toEqual([
      [1, 'QUARANTINED'],
      [2, 'SUCCEEDED'],
    ]);
    // Nothing quarantined is left to replay.
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual([]);
  });

  it('says so, with exit code 2, for a key the ledger does not know', async () => {
    // Act
    const run = await runOps(replayCommand, target, ['incoming/nowhere/x.csv', '--dry-run']);

    // Assess
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      'sluice: no file in the ledger at incoming/nowhere/x.csv or under it\n',
    );
  });
});

describe('sluice redrive', () => {
  it('goes on from the failed state, same ARN, without re-entering the states that succeeded', async () => {
    // Prepare: with the aggregate stream gone, PublishAggregates fails and so does the execution.
    const kinesis = localKinesisClient(stack.endpoints.kinesis);
    const StreamName = stack.names.streamName;
    await kinesis.send(new DeleteStreamCommand({ StreamName }));
    // (Not through runFiles: its final Firehose flush would fail on the missing stream too.)
    await stack.s3.send(
      new PutObjectCommand({
        Bucket: stack.names.bucketName,
        Key: 'incoming/ledgers/april.csv',
        Body: 'id,amount\n1,2\n',
      }),
    );
    let executionArn: string | undefined;
    while (!executionArn) {
      const { executions = [] } = await stack.sfn.send(
        new ListExecutionsCommand({
          stateMachineArn: stack.names.stateMachineArn,
          statusFilter: 'FAILED',
        }),
      );
      executionArn = executions[0]?.executionArn;
      await new Promise((wake) => setTimeout(wake, 20));
    }
    const dryRun = await runOps(redriveCommand, target, ['--dry-run', '-o', 'json']);
    await kinesis.send(new CreateStreamCommand({ StreamName, ShardCount: 1 }));
    while (
      (await kinesis.send(new DescribeStreamSummaryCommand({ StreamName })))
        .StreamDescriptionSummary?.StreamStatus !== 'ACTIVE'
    ) {
      await new Promise((wake) => setTimeout(wake, 20));
    }
    kinesis.destroy();

    // Act
    const redrive = await runOps(redriveCommand, target, [executionArn, '-o', 'json']);
    const refused = await runOps(redriveCommand, target, [executionArn, '-o', 'json']);

    // Assess
    expect(JSON.parse(dryRun.stdout)).toContainEqual({
      key: 'incoming/ledgers/april.csv',
      executionArn,
      lastError: expect.objectContaining({ name: 'ResourceNotFoundException' }),
      action: 'redrive (it stopped in PublishAggregates)',
    });
    expect(redrive.code).toBe(0);
    expect(JSON.parse(redrive.stdout)).toEqual([
      expect.objectContaining({
        executionArn,
        result: { status: 'SUCCEEDED', redriveCount: 1, error: null },
      }),
    ]);
    const described = await stack.sfn.send(new DescribeExecutionCommand({ executionArn }));
    expect(described).toMatchObject({ status: 'SUCCEEDED', redriveCount: 1 });
    const { events = [] } = await stack.sfn.send(
      new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }),
    );
    const redrivenAt = events.findIndex((event) => event.type === 'ExecutionRedriven');
    expect(redrivenAt).toBeGreaterThan(0);
    const enteredAfter = events
      .slice(redrivenAt)
      .filter((event) => event.type === 'TaskStateEntered')
      .map((event) => event.stateEnteredEventDetails?.name);
    expect(enteredAfter).toEqual(['PublishAggregates']);
    const ledger = await stack.ledger.history(stack.names.bucketName, 'incoming/ledgers/april.csv');
    expect(ledger.map((item) => item.status)).toEqual(['SUCCEEDED']);
    expect(refused.code).toBe(0);
    expect(JSON.parse(refused.stdout)).toEqual([
      expect.objectContaining({
        action: 'skip: SUCCEEDED executions cannot be redriven',
        result: null,
      }),
    ]);
  });

  it("moves the upload queue's dead letters back to the queue with --dlq", async () => {
    // Prepare: a message the start function cannot read lands in the DLQ after its receives.
    stack.queue.send('not an S3 event');
    while (stack.queue.deadLetters.length === 0) await new Promise((wake) => setTimeout(wake, 10));
    const [letter] = stack.queue.deadLetters;

    // Act
    const plan = await runOps(redriveCommand, target, ['--dlq', '--dry-run', '-o', 'json']);
    const moved = await runOps(redriveCommand, target, ['--dlq', '-o', 'json']);

    // Assess: delivered again from the queue, it fails again and returns to the DLQ.
    expect(JSON.parse(plan.stdout)).toEqual([
      {
        queue: stack.deadLetterQueueUrl,
        queueArn: 'arn:aws:sqs:us-east-1:000000000000:sluice-uploads-dlq',
        messages: 1,
        action: 'move 1 message(s) back to the upload queue',
      },
    ]);
    expect(moved.code).toBe(0);
    expect(JSON.parse(moved.stdout)[0].result.taskHandle).toEqual(expect.any(String));
    const movedAt = letter?.movedAt ?? 0;
    while ((stack.queue.deadLetters[0]?.movedAt ?? movedAt) <= movedAt) {
      await new Promise((wake) => setTimeout(wake, 10));
    }
    expect(stack.queue.deadLetters).toEqual([
      expect.objectContaining({ messageId: letter?.messageId, receiveCount: 5 }),
    ]);
  });
});
