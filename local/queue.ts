import { randomUUID } from 'node:crypto';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

interface Message {
  readonly messageId: string;
  readonly body: string;
  readonly sentAt: number;
  receiveCount: number;
}

export interface LocalQueueOptions {
  /** The event source mapping's consumer: the start function. */
  readonly consume: (event: SQSEvent) => Promise<unknown>;
  readonly batchSize?: number;
  /** Receives before a message moves to the dead-letter queue, as the redrive policy says. */
  readonly maxReceiveCount?: number;
  /** Delay before a failed message is visible again. */
  readonly visibilityTimeoutMs?: number;
  readonly concurrency?: number;
  readonly queueArn: string;
}

/**
 * SQS with its Lambda event source mapping: batches, partial batch failures
 * (`batchItemFailures`), redelivery after the visibility timeout, and a dead-letter queue.
 */
export class LocalQueue {
  readonly deadLetters: { readonly body: string; readonly error: string }[] = [];
  private readonly ready: Message[] = [];
  private delayed = 0;
  private consuming = 0;
  private closed = false;

  constructor(private readonly options: LocalQueueOptions) {}

  send(body: string): void {
    this.ready.push({ messageId: randomUUID(), body, sentAt: Date.now(), receiveCount: 0 });
    this.pump();
  }

  /** No message waiting, delayed or being consumed. */
  get idle(): boolean {
    return this.ready.length === 0 && this.delayed === 0 && this.consuming === 0;
  }

  close(): void {
    this.closed = true;
  }

  private pump(): void {
    const concurrency = this.options.concurrency ?? 1;
    while (!this.closed && this.ready.length > 0 && this.consuming < concurrency) {
      const batch = this.ready.splice(0, this.options.batchSize ?? 10);
      this.consuming++;
      void this.deliver(batch).finally(() => {
        this.consuming--;
        this.pump();
      });
    }
  }

  private async deliver(batch: Message[]): Promise<void> {
    for (const message of batch) message.receiveCount++;
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
    for (const message of batch.filter((m) => failed.has(m.messageId))) {
      if (message.receiveCount >= (this.options.maxReceiveCount ?? 3)) {
        this.deadLetters.push({ body: message.body, error: reason });
        continue;
      }
      this.delayed++;
      setTimeout(() => {
        this.delayed--;
        this.ready.push(message);
        this.pump();
      }, this.options.visibilityTimeoutMs ?? 1000).unref();
    }
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
