import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

interface Message {
  readonly messageId: string;
  readonly body: string;
  readonly sentAt: number;
  receiveCount: number;
}

/** A message the consumer failed `maxReceiveCount` times, as the dead-letter queue keeps it. */
export interface DeadLetter {
  readonly messageId: string;
  readonly body: string;
  readonly sentAt: number;
  readonly receiveCount: number;
  /** The last failure, for ops: the thrown error or "batch item failure". */
  readonly error: string;
  readonly movedAt: number;
}

export interface LocalQueueOptions {
  /** The event source mapping's consumer: the start function. */
  readonly consume: (event: SQSEvent) => Promise<unknown>;
  readonly batchSize: number;
  /** Receives before a message moves to the dead-letter queue, as the redrive policy says. */
  readonly maxReceiveCount: number;
  /** Delay before a failed message is visible again. */
  readonly visibilityTimeoutMs?: number;
  readonly concurrency?: number;
  readonly queueArn: string;
  /**
   * Keeps every message (`messages/`) and dead letter (`dlq/`) as a file until it is consumed, so
   * a message accepted before a crash is delivered again on the next start.
   * @default - in memory only
   */
  readonly directory?: string;
}

/**
 * SQS with its Lambda event source mapping: batches, partial batch failures
 * (`batchItemFailures`), redelivery after the visibility timeout, and a dead-letter queue.
 * Delivery is at least once, as on AWS: a message is deleted only after its batch returned.
 */
export class LocalQueue {
  private readonly ready: Message[] = [];
  private readonly dead = new Map<string, DeadLetter>();
  private delayed = 0;
  private consuming = 0;
  private closed = false;

  constructor(private readonly options: LocalQueueOptions) {
    const { directory } = options;
    if (directory === undefined) return;
    mkdirSync(join(directory, 'messages'), { recursive: true });
    mkdirSync(join(directory, 'dlq'), { recursive: true });
    const load = <T>(folder: string): T[] =>
      readdirSync(join(directory, folder))
        .filter((file) => file.endsWith('.json'))
        .flatMap((file) => {
          try {
            return [JSON.parse(readFileSync(join(directory, folder, file), 'utf8')) as T];
          } catch {
            // Only a write cut short by a crash leaves a partial file, and it was never acked.
            return [];
          }
        });
    for (const letter of load<DeadLetter>('dlq')) this.dead.set(letter.messageId, letter);
    this.ready.push(...load<Message>('messages').sort((a, b) => a.sentAt - b.sentAt));
  }

  /** Accepts a message; with a directory it is on disk before this returns. */
  send(body: string): void {
    const message = { messageId: randomUUID(), body, sentAt: Date.now(), receiveCount: 0 };
    this.save('messages', message);
    this.ready.push(message);
    this.pump();
  }

  /** Starts delivering what was queued before a restart. */
  start(): void {
    this.pump();
  }

  /** No message waiting, delayed or being consumed. */
  get idle(): boolean {
    return this.ready.length === 0 && this.delayed === 0 && this.consuming === 0;
  }

  /** Messages waiting or in flight (SQS's ApproximateNumberOfMessages plus NotVisible). */
  get depth(): number {
    return this.ready.length + this.delayed + this.consuming;
  }

  get maxReceiveCount(): number {
    return this.options.maxReceiveCount;
  }

  get deadLetters(): readonly DeadLetter[] {
    return [...this.dead.values()].sort((a, b) => a.movedAt - b.movedAt);
  }

  /** Moves every dead letter back to the queue with a fresh receive count, as a DLQ redrive does. */
  redriveDeadLetters(): number {
    const letters = this.deadLetters;
    for (const letter of letters) {
      const message = { messageId: letter.messageId, body: letter.body, sentAt: letter.sentAt };
      this.save('messages', { ...message, receiveCount: 0 });
      this.remove('dlq', letter.messageId);
      this.dead.delete(letter.messageId);
      this.ready.push({ ...message, receiveCount: 0 });
    }
    this.pump();
    return letters.length;
  }

  close(): void {
    this.closed = true;
  }

  private pump(): void {
    const concurrency = this.options.concurrency ?? 1;
    while (!this.closed && this.ready.length > 0 && this.consuming < concurrency) {
      const batch = this.ready.splice(0, this.options.batchSize);
      this.consuming++;
      void this.deliver(batch).finally(() => {
        this.consuming--;
        this.pump();
      });
    }
  }

  private async deliver(batch: Message[]): Promise<void> {
    for (const message of batch) {
      message.receiveCount++;
      this.save('messages', message);
    }
    let failed: Set<string>;
    let reason = 'batch item failure';
    try {
      const response = (await this.options.consume({
        Records: batch.map((message) => this.record(message)),
      })) as SQSBatchResponse | undefined;
      failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } catch (error) {
      // A thrown handler error fails the whole batch, as with the real event source mapping.
      reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      failed = new Set(batch.map((message) => message.messageId));
    }
    // A stack that is stopping keeps what it could not finish for the next start.
    if (this.closed) {
      for (const message of batch)
        if (!failed.has(message.messageId)) this.remove('messages', message.messageId);
      return;
    }
    for (const message of batch) {
      if (!failed.has(message.messageId)) {
        this.remove('messages', message.messageId);
      } else if (message.receiveCount >= this.options.maxReceiveCount) {
        const letter: DeadLetter = { ...message, error: reason, movedAt: Date.now() };
        this.save('dlq', letter);
        this.remove('messages', message.messageId);
        this.dead.set(letter.messageId, letter);
      } else {
        this.delayed++;
        setTimeout(() => {
          this.delayed--;
          if (this.closed) return;
          this.ready.push(message);
          this.pump();
        }, this.options.visibilityTimeoutMs ?? 1000).unref();
      }
    }
  }

  private save(folder: 'messages' | 'dlq', message: Message | DeadLetter): void {
    const { directory } = this.options;
    if (directory === undefined) return;
    const path = join(directory, folder, `${message.messageId}.json`);
    writeFileSync(`${path}.tmp`, JSON.stringify(message));
    renameSync(`${path}.tmp`, path);
  }

  private remove(folder: 'messages' | 'dlq', messageId: string): void {
    const { directory } = this.options;
    if (directory !== undefined)
      rmSync(join(directory, folder, `${messageId}.json`), { force: true });
  }

  private record(message: Message): SQSRecord {
    return {
      messageId: message.messageId,
      receiptHandle: message.messageId,
      body: message.body,
      attributes: {
        ApproximateReceiveCount: String(message.receiveCount),
        SentTimestamp: String(message.sentAt),
        SenderId: 'events.amazonaws.com',
        ApproximateFirstReceiveTimestamp: String(Date.now()),
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: this.options.queueArn,
      awsRegion: this.options.queueArn.split(':')[3] ?? 'us-east-1',
    };
  }
}
