import { PutObjectCommand } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultLayer } from '#local/faults/fault-layer.ts';
import { parseFaultRules } from '#local/faults/rules.ts';
import { LocalStack } from '#local/stack/stack.ts';
import { redriveCommand } from '../../cli/commands/redrive.ts';
import { type OpsTarget, targetFromLocalStack } from '../../cli/ops/target.ts';
import { runOps } from '../cli/ops-helpers.ts';

const FINAL = new Set(['SUCCEEDED', 'QUARANTINED', 'FAILED']);
/** Long enough for the ASL's 10 retries to outlast an outage of OUTAGE_MS, as 30 s on AWS. */
const RETRY_INTERVAL_MS = 250;
const OUTAGE_MS = 1_000;

const faults = new FaultLayer();
let stack: LocalStack;
let target: OpsTarget;
let png: Buffer;

beforeAll(async () => {
  stack = await LocalStack.start({ faults, retryIntervalMs: RETRY_INTERVAL_MS });
  target = targetFromLocalStack(stack);
  png = await sharp({
    create: { width: 40, height: 30, channels: 3, background: { r: 90, g: 20, b: 160 } },
  })
    .png()
    .toBuffer();
  // Warm every function first: a 1 s outage must meet the pipeline's calls, not its cold starts.
  for (const [key, body] of [
    ['incoming/warmup/w.csv', Buffer.from('id\n1\n')],
    ['incoming/warmup/w.png', png],
  ] as const) {
    await stack.s3.send(
      new PutObjectCommand({ Bucket: stack.names.bucketName, Key: key, Body: body }),
    );
  }
  await stack.waitForIdle();
}, 60_000);

afterAll(async () => {
  await stack?.close();
});

describe('an outage of one service', () => {
  it.each([
    ['s3', { error: { code: 'SlowDown' } }],
    ['dynamodb', { error: { code: 'ProvisionedThroughputExceededException' } }],
    ['kinesis', { reset: true }],
    ['stepfunctions', { error: { code: 'ThrottlingException' } }],
    ['lambda', { error: { code: 'TooManyRequestsException' } }],
  ])(
    '%s down, then back: every file finishes once, with the status it would have had',
    async (service, effect) => {
      // Prepare
      const files = [
        { key: `incoming/${service}/a.csv`, body: Buffer.from('id,name\n1,a\n2,b\n') },
        { key: `incoming/${service}/b.csv`, body: Buffer.from('id,name\n3,c\n') },
        { key: `incoming/${service}/c.png`, body: Buffer.concat([png, Buffer.from('c')]) },
        { key: `incoming/${service}/d.png`, body: Buffer.concat([png, Buffer.from('d')]) },
      ];

      // Act: the outage begins as the files arrive. For S3 it is the pipeline's reads that fail;
      // the uploads themselves are the client's to retry.
      const operation = service === 's3' ? { operation: 'GetObject' } : {};
      faults.setRules(
        parseFaultRules([{ service, ...operation, durationMs: OUTAGE_MS, ...effect }]),
      );
      for (const file of files) {
        await stack.s3.send(
          new PutObjectCommand({ Bucket: stack.names.bucketName, Key: file.key, Body: file.body }),
        );
      }
      await stack.waitForIdle();
      faults.setRules([]);
      // What still failed: starts left in the dead-letter queue, executions that failed.
      const dlq = await runOps(redriveCommand, target, ['--dlq', '-o', 'json']);
      await stack.waitForIdle();
      const redrive = await runOps(redriveCommand, target, ['-o', 'json']);
      await stack.waitForIdle();

      // Assess
      expect(faults.report().injected.byService[service as 's3']).toBeGreaterThan(0);
      expect([dlq.code ?? 0, redrive.code ?? 0]).toEqual([0, 0]);
      for (const file of files) {
        const items = await stack.ledger.history(stack.names.bucketName, file.key);
        const finals = items.filter((item) => FINAL.has(item.status));
        expect({ key: file.key, statuses: finals.map((item) => item.status) }).toEqual({
          key: file.key,
          statuses: ['SUCCEEDED'],
        });
      }
      expect(stack.queue.deadLetters).toEqual([]);
    },
  );
});
