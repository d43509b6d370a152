import { createHash, randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { readJsonLines } from './json-lines.ts';

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
  /**
   * Delay before a failed message is visible again, tripled at each further receive (1, 3, 9,
   * 27 s by default): a service outage of up to about 40 s ends in delivered events rather than
   * dead letters. On AWS the same comes from a visibility timeout of 6× the consumer's timeout.
   */
  readonly visibilityTimeoutMs?: number;
  readonly concurrency?: number;
  readonly queueArn: string;
  /**
   * Keeps a journal of every message and dead letter in `journal.jsonl` here, so a message
   * accepted before a crash is delivered again on the next start.
   * @default - in memory only
   */
  readonly directory?: string;
}

/** One line of the queue's journal; replaying them in order gives the queue's state. */
type JournalEntry =
  | { readonly op: 'send'; readonly message: Message }
  | { readonly op: 'receive' | 'delete'; readonly messageId: string }
  | { readonly op: 'dead'; readonly letter: DeadLetter };

/** The journal is rewritten once it holds this many times more lines than live messages. */
const COMPACT_RATIO = 4;

/** The message was not accepted: the queue is closed, and S3 must answer the upload with a 5xx. */
export class QueueClosed extends Error {
  override name = 'QueueClosed';
}

/**
 * SQS with its Lambda event source mapping: batches, partial batch failures
 * (`batchItemFailures`), redelivery after the visibility timeout, and a dead-letter queue.
 * Delivery is at least once, as on AWS: a message is deleted only after its batch returned.
 */
export class LocalQueue {
  private readonly ready: Message[] = [];
  /** Every message not yet deleted or dead-lettered: ready, delayed or being consumed. */
  private readonly live = new Map<string, Message>();
  private readonly dead = new Map<string, DeadLetter>();
  private delayed = 0;
  private consuming = 0;
  private closed = false;
  private journal?: number;
  private journalLines = 0;

  constructor(private readonly options: LocalQueueOptions) {
    const { directory } = options;
    if (directory === undefined) return;
    mkdirSync(directory, { recursive: true });
    const path = join(directory, 'journal.jsonl');
    const pending = new Map<string, Message>();
    for (const entry of readJsonLines<JournalEntry>(path)) {
      if (entry.op === 'send') pending.set(entry.message.messageId, { ...entry.message });
      else if (entry.op === 'dead') {
        pending.delete(entry.letter.messageId);
        this.dead.set(entry.letter.messageId, entry.letter);
      } else if (entry.op === 'delete') {
        pending.delete(entry.messageId);
        this.dead.delete(entry.messageId);
      } else {
        const message = pending.get(entry.messageId);
        if (message) message.receiveCount++;
      }
    }
    for (const message of [...pending.values()].sort((a, b) => a.sentAt - b.sentAt)) {
      this.ready.push(message);
      this.live.set(message.messageId, message);
    }
    this.compact();
  }

  /**
   * Accepts a message; with a directory it is on disk before this returns.
   * @throws QueueClosed once the queue is closed
   */
  send(body: string): void {
    if (this.closed) throw new QueueClosed('The local upload queue is stopping');
    const message = { messageId: randomUUID(), body, sentAt: Date.now(), receiveCount: 0 };
    this.write({ op: 'send', message });
    this.live.set(message.messageId, message);
    this.ready.push(message);
    this.compactIfLong();
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

  /** Messages waiting to be received (SQS's ApproximateNumberOfMessages). */
  get visible(): number {
    return this.ready.length;
  }

  /** Messages waiting or in flight (SQS's ApproximateNumberOfMessages plus NotVisible). */
  get depth(): number {
    return this.ready.length + this.delayed + this.consuming;
  }

  get maxReceiveCount(): number {
    return this.options.maxReceiveCount;
  }

  /** Messages not yet deleted or dead-lettered, oldest first, with how often each was received. */
  get pending(): readonly Readonly<Message>[] {
    return [...this.live.values()].sort((a, b) => a.sentAt - b.sentAt);
  }

  get deadLetters(): readonly DeadLetter[] {
    return [...this.dead.values()].sort((a, b) => a.movedAt - b.movedAt);
  }

  /** Moves every dead letter back to the queue with a fresh receive count, as a DLQ redrive does. */
  redriveDeadLetters(): number {
    const letters = this.deadLetters;
    for (const letter of letters) {
      const message = {
        messageId: letter.messageId,
        body: letter.body,
        sentAt: letter.sentAt,
        receiveCount: 0,
      };
      this.write({ op: 'delete', messageId: letter.messageId });
      this.write({ op: 'send', message });
      this.dead.delete(letter.messageId);
      this.live.set(message.messageId, message);
      this.ready.push(message);
    }
    this.compactIfLong();
    this.pump();
    return letters.length;
  }

  /** Stops delivering; the journal closes once the batches in flight have settled. */
  close(): void {
    this.closed = true;
    if (this.consuming === 0) this.closeJournal();
  }

  private closeJournal(): void {
    if (this.journal !== undefined) closeSync(this.journal);
    this.journal = undefined;
  }

  private pump(): void {
    const concurrency = this.options.concurrency ?? 1;
    while (!this.closed && this.ready.length > 0 && this.consuming < concurrency) {
      const batch = this.ready.splice(0, this.options.batchSize);
      this.consuming++;
      void this.deliver(batch).finally(() => {
        this.consuming--;
        if (!this.closed) this.compactIfLong();
        if (this.closed && this.consuming === 0) this.closeJournal();
        this.pump();
      });
    }
  }

  private async deliver(delivered: Message[]): Promise<void> {
    let batch = delivered;
    for (const message of batch) {
      message.receiveCount++;
      this.write({ op: 'receive', messageId: message.messageId });
    }
    this.compactIfLong();
    // SQS moves a message at its limit on the next receive, so one that crashes its consumer
    // every time (and so never reports a failure) still reaches the DLQ.
    const due = batch.filter((message) => message.receiveCount > this.options.maxReceiveCount);
    for (const message of due) {
      this.deadLetter(message, 'the consumer never finished a delivery (maxReceiveCount)');
    }
    batch = batch.filter((message) => !due.includes(message));
    if (batch.length === 0) return;
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
    for (const message of batch) {
      if (!failed.has(message.messageId)) {
        this.write({ op: 'delete', messageId: message.messageId });
        this.live.delete(message.messageId);
      } else if (this.closed) {
        // A stack that is stopping keeps what it could not finish for the next start.
      } else if (message.receiveCount >= this.options.maxReceiveCount) {
        this.deadLetter(message, reason);
      } else {
        this.delayed++;
        setTimeout(
          () => {
            this.delayed--;
            if (this.closed) return;
            this.ready.push(message);
            this.pump();
          },
          (this.options.visibilityTimeoutMs ?? 1000) * 3 ** (message.receiveCount - 1),
        ).unref();
      }
    }
  }

  private deadLetter(message: Message, error: string): void {
    const letter: DeadLetter = { ...message, error, movedAt: Date.now() };
    this.write({ op: 'dead', letter });
    this.live.delete(message.messageId);
    this.dead.set(letter.messageId, letter);
  }

  /** One write per entry: a kill -9 loses at most the entry being written. */
  private write(entry: JournalEntry): void {
    if (this.journal === undefined) return;
    writeSync(this.journal, `${JSON.stringify(entry)}\n`);
    this.journalLines++;
  }

  /** After the state is updated, never between a write and the change it records. */
  private compactIfLong(): void {
    if (this.journalLines > COMPACT_RATIO * (this.live.size + this.dead.size + 1000)) {
      this.compact();
    }
  }

  /** Rewrites the journal as what is left, so it grows with the backlog, not with history. */
  private compact(): void {
    const { directory } = this.options;
    if (directory === undefined) return;
    const path = join(directory, 'journal.jsonl');
    const entries: JournalEntry[] = [
      ...[...this.live.values()].map((message) => ({ op: 'send' as const, message })),
      ...[...this.dead.values()].map((letter) => ({ op: 'dead' as const, letter })),
    ];
    writeFileSync(`${path}.tmp`, entries.map((entry) => `${JSON.stringify(entry)}\n`).join(''));
    renameSync(`${path}.tmp`, path);
    if (this.journal !== undefined) closeSync(this.journal);
    this.journal = openSync(path, 'a');
    this.journalLines = entries.length;
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
      md5OfBody: createHash('md5').update(message.body).digest('hex'),
      eventSource: 'aws:sqs',
      eventSourceARN: this.options.queueArn,
      awsRegion: this.options.queueArn.split(':')[3] ?? 'us-east-1',
    };
  }
}
