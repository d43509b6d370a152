import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SQSEvent } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalQueue } from '#local/emulators/queue.ts';

const QUEUE_ARN = 'arn:aws:sqs:us-east-1:000000000000:test';
let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const queueOn = (directory: string, consume: (event: SQSEvent) => Promise<unknown>) =>
  new LocalQueue({
    consume,
    queueArn: QUEUE_ARN,
    batchSize: 10,
    maxReceiveCount: 2,
    visibilityTimeoutMs: 5,
    directory,
  });

const consumeNothing = () => new Promise<never>(() => {});

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((wake) => setTimeout(wake, 5));
}

describe('the local upload queue on disk', () => {
  it('delivers again after a restart what a stopped process had accepted', async () => {
    // Prepare: the first consumer never returns, as when the process dies mid-batch.
    dir = mkdtempSync(join(tmpdir(), 'sluice-queue-'));
    let received = 0;
    const first = queueOn(dir, () => {
      received++;
      return new Promise(() => {});
    });
    first.send('{"n":1}');
    await until(() => received === 1);
    first.close();

    // Act
    const bodies: string[] = [];
    const second = queueOn(dir, async (event) => {
      bodies.push(...event.Records.map((record) => record.body));
      return { batchItemFailures: [] };
    });
    second.start();
    await until(() => second.idle);

    // Assess
    expect(bodies).toEqual(['{"n":1}']);
    second.close();
    expect(queueOn(dir, consumeNothing).depth).toBe(0);
  });

  it('keeps dead letters across restarts and moves them back on redrive', async () => {
    // Prepare: a consumer that fails every message until it is fixed.
    dir = mkdtempSync(join(tmpdir(), 'sluice-queue-'));
    let fixed = false;
    const delivered: string[] = [];
    const consume = async (event: SQSEvent) => {
      if (!fixed) throw new Error('StartExecution is down');
      delivered.push(...event.Records.map((record) => record.body));
      return { batchItemFailures: [] };
    };
    const first = queueOn(dir, consume);
    first.send('{"n":2}');
    await until(() => first.deadLetters.length === 1);
    first.close();

    // Act
    const second = queueOn(dir, consume);
    const kept = second.deadLetters;
    fixed = true;
    const moved = second.redriveDeadLetters();
    await until(() => second.idle);

    // Assess
    expect(kept).toEqual([
      expect.objectContaining({
        body: '{"n":2}',
        receiveCount: 2,
        error: 'Error: StartExecution is down',
      }),
    ]);
    expect(moved).toBe(1);
    expect(delivered).toEqual(['{"n":2}']);
    expect(second.deadLetters).toEqual([]);
    second.close();
    const third = queueOn(dir, consumeNothing);
    expect([third.depth, third.deadLetters.length]).toEqual([0, 0]);
  });

  it('keeps its journal to the backlog while it runs, not to every message it ever had', async () => {
    // Prepare
    dir = mkdtempSync(join(tmpdir(), 'sluice-queue-'));
    let delivered = 0;
    const queue = queueOn(dir, async (event) => {
      delivered += event.Records.length;
      return { batchItemFailures: [] };
    });

    // Act: 3,000 messages, each written as sent, received and deleted.
    for (let i = 0; i < 3000; i++) queue.send(`{"n":${i}}`);
    await until(() => queue.idle);
    queue.close();

    // Assess
    const lines = readFileSync(join(dir, 'journal.jsonl'), 'utf8').split('\n').filter(Boolean);
    expect(delivered).toBe(3000);
    expect(lines.length).toBeLessThan(4 * 1000 + 1);
    expect(queueOn(dir, consumeNothing).depth).toBe(0);
  });
});
