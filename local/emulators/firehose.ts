import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  InvalidArgumentException,
  type KinesisClient,
  ListShardsCommand,
  ListTagsForStreamCommand,
  type Shard,
  type ShardIteratorType,
} from '@aws-sdk/client-kinesis';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { INCARNATION_TAG, localKinesisClient } from './kinesis.ts';
import { localS3Client } from './s3.ts';

export interface FirehoseDelivery {
  /** Reads everything currently in the stream and writes it out now. */
  flush(): Promise<void>;
  /** Flushes, then stops polling and releases the clients. Rejects if that last flush fails. */
  close(): Promise<void>;
  /** Records written to S3 so far. */
  readonly delivered: number;
}

export interface FirehoseDeliveryOptions {
  readonly kinesisEndpoint: string;
  readonly streamName: string;
  readonly s3Endpoint: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly deliveryStreamName: string;
  /** Default 1000. */
  readonly bufferIntervalMs?: number;
  /** Default 5 MiB. */
  readonly bufferBytes?: number;
  /** A JSON file keeping the last delivered sequence number per shard across restarts. */
  readonly checkpointPath?: string;
}

interface Checkpoint {
  readonly streamName: string;
  /** The stream's {@link INCARNATION_TAG}, when it has one. */
  readonly incarnation?: string;
  readonly shards: Readonly<Record<string, string>>;
}

/** Records read from the stream and not yet written to S3. */
class PendingBatch {
  chunks: Uint8Array[] = [];
  bytes = 0;
  records = 0;
  /** Approximate arrival time of the oldest record: it names the object, as in Firehose. */
  oldest: Date | undefined;
  /** Since when records have been waiting, for the buffer interval. */
  since = 0;
  /** The last sequence number per shard in the buffer. */
  readonly lastSequence = new Map<string, string>();
  /**
   * The object's key, chosen at the first try: a write retried after an answer that never came
   * overwrites the object it may have made, instead of landing the records twice.
   */
  key: string | undefined;
}

const pad = (value: number): string => String(value).padStart(2, '0');

/** Firehose's default S3 key: `<prefix>YYYY/MM/DD/HH/<name>-1-YYYY-MM-DD-HH-MM-SS-<uuid>`, UTC. */
export function firehoseObjectKey(prefix: string, deliveryStreamName: string, time: Date): string {
  const y = String(time.getUTCFullYear());
  const mo = pad(time.getUTCMonth() + 1);
  const d = pad(time.getUTCDate());
  const h = pad(time.getUTCHours());
  const mi = pad(time.getUTCMinutes());
  const s = pad(time.getUTCSeconds());
  return `${prefix}${y}/${mo}/${d}/${h}/${deliveryStreamName}-1-${y}-${mo}-${d}-${h}-${mi}-${s}-${randomUUID()}`;
}

const describe = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

/**
 * The local stand-in for Kinesis Firehose with a Kinesis stream source and an S3 destination.
 * Polls every shard from TRIM_HORIZON (or after the checkpoint), buffers, and writes objects
 * under Firehose's default key layout, concatenating record data exactly as received (no
 * delimiter, as Firehose does: producers terminate their own records). Writes when the buffer
 * reaches `bufferBytes` or has waited `bufferIntervalMs`. Delivery is at least once: the
 * checkpoint moves only after the object is written.
 */
export function startFirehoseDelivery(options: FirehoseDeliveryOptions): FirehoseDelivery {
  const {
    streamName,
    bucket,
    prefix,
    deliveryStreamName,
    checkpointPath,
    bufferIntervalMs = 1000,
    bufferBytes = 5 * 1024 * 1024,
  } = options;
  const kinesis: KinesisClient = localKinesisClient(options.kinesisEndpoint);
  const s3 = localS3Client(options.s3Endpoint);

  /** Last sequence number per shard written to S3. */
  let committed: Map<string, string> | undefined;
  /** Last sequence number per shard read from the stream (buffered or written). */
  const read = new Map<string, string>();
  const iterators = new Map<string, string>();
  /** Shards read to their end after a reshard. */
  const finished = new Set<string>();
  let buffer = new PendingBatch();
  let delivered = 0;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let lastLogged: string | undefined;

  let queue: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(task: () => Promise<T>): Promise<T> => {
    const run = queue.then(task, task);
    queue = run.catch(() => undefined);
    return run;
  };

  /** The stream's incarnation tag, read once with the checkpoint. */
  let incarnation: string | undefined;

  async function loadCheckpoint(): Promise<Map<string, string>> {
    if (checkpointPath === undefined) return new Map();
    const { Tags } = await kinesis.send(new ListTagsForStreamCommand({ StreamName: streamName }));
    incarnation = Tags?.find((tag) => tag.Key === INCARNATION_TAG)?.Value;
    try {
      const saved = JSON.parse(await readFile(checkpointPath, 'utf8')) as Checkpoint;
      if (saved.streamName === streamName && saved.incarnation === incarnation) {
        return new Map(Object.entries(saved.shards));
      }
      console.error(
        `local Firehose ${deliveryStreamName}: ${checkpointPath} is for another stream; reading ${streamName} from the start`,
      );
      return new Map();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw error;
    }
  }

  async function saveCheckpoint(shards: Map<string, string>): Promise<void> {
    if (checkpointPath === undefined) return;
    const checkpoint: Checkpoint = {
      streamName,
      ...(incarnation === undefined ? {} : { incarnation }),
      shards: Object.fromEntries(shards),
    };
    await mkdir(dirname(checkpointPath), { recursive: true });
    const temporary = `${checkpointPath}.${process.pid}.tmp`;
    await writeFile(temporary, `${JSON.stringify(checkpoint, null, 2)}\n`);
    await rename(temporary, checkpointPath);
  }

  async function listShards(): Promise<Shard[]> {
    const shards: Shard[] = [];
    let nextToken: string | undefined;
    do {
      const page = await kinesis.send(
        nextToken === undefined
          ? new ListShardsCommand({ StreamName: streamName })
          : new ListShardsCommand({ NextToken: nextToken }),
      );
      shards.push(...(page.Shards ?? []));
      nextToken = page.NextToken;
    } while (nextToken !== undefined);
    return shards;
  }

  async function iteratorFor(shardId: string, start: Map<string, string>): Promise<string> {
    const after = read.get(shardId) ?? start.get(shardId);
    const request = (type: ShardIteratorType, sequence?: string) =>
      kinesis.send(
        new GetShardIteratorCommand({
          StreamName: streamName,
          ShardId: shardId,
          ShardIteratorType: type,
          ...(sequence === undefined ? {} : { StartingSequenceNumber: sequence }),
        }),
      );
    if (after !== undefined) {
      try {
        const { ShardIterator } = await request('AFTER_SEQUENCE_NUMBER', after);
        if (ShardIterator !== undefined) return ShardIterator;
      } catch (error) {
        // A checkpoint from another incarnation of the stream (e.g. an in-memory one).
        if (!(error instanceof InvalidArgumentException)) throw error;
        console.error(
          `local Firehose ${deliveryStreamName}: checkpoint ${after} is not in ${shardId}; reading it from the start`,
        );
      }
    }
    const { ShardIterator } = await request('TRIM_HORIZON');
    if (ShardIterator === undefined) throw new Error(`No shard iterator for ${shardId}`);
    return ShardIterator;
  }

  /** Writes the buffer as one object, then moves the checkpoint. */
  async function write(): Promise<void> {
    if (buffer.records === 0) return;
    const full = buffer;
    full.key ??= firehoseObjectKey(prefix, deliveryStreamName, full.oldest ?? new Date());
    const key = full.key;
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.concat(full.chunks) }),
    );
    buffer = new PendingBatch();
    delivered += full.records;
    const next = new Map(committed);
    for (const [shardId, sequence] of full.lastSequence) next.set(shardId, sequence);
    committed = next;
    await saveCheckpoint(next);
  }

  /** Reads every shard up to its current end into the buffer, writing whenever it is full. */
  async function readAvailable(): Promise<void> {
    committed ??= await loadCheckpoint();
    const start = committed;
    for (const shard of await listShards()) {
      const shardId = shard.ShardId;
      if (shardId === undefined || finished.has(shardId)) continue;
      for (;;) {
        const iterator = iterators.get(shardId) ?? (await iteratorFor(shardId, start));
        let page: Awaited<ReturnType<typeof getRecords>>;
        try {
          page = await getRecords(iterator);
        } catch (error) {
          iterators.delete(shardId); // expired or invalid: start again after what was read
          throw error;
        }
        if (page.NextShardIterator === undefined) {
          finished.add(shardId);
          iterators.delete(shardId);
        } else {
          iterators.set(shardId, page.NextShardIterator);
        }
        const records = page.Records ?? [];
        for (const record of records) {
          const data = record.Data ?? new Uint8Array();
          if (buffer.records === 0) {
            buffer.since = Date.now();
            buffer.oldest = record.ApproximateArrivalTimestamp;
          }
          buffer.chunks.push(data);
          buffer.bytes += data.byteLength;
          buffer.records += 1;
          if (record.SequenceNumber !== undefined) {
            buffer.lastSequence.set(shardId, record.SequenceNumber);
            read.set(shardId, record.SequenceNumber);
          }
          if (buffer.bytes >= bufferBytes) await write();
        }
        if (records.length === 0 || page.NextShardIterator === undefined) break;
      }
    }
  }

  const getRecords = (iterator: string) =>
    kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));

  const flushNow = async (): Promise<void> => {
    await readAvailable();
    await write();
  };

  const tick = async (): Promise<void> => {
    timer = undefined;
    try {
      await exclusive(async () => {
        if (closed) return;
        await readAvailable();
        if (buffer.records > 0 && Date.now() - buffer.since >= bufferIntervalMs) await write();
      });
      lastLogged = undefined;
    } catch (error) {
      const message = describe(error);
      if (message !== lastLogged) {
        console.error(
          `local Firehose ${deliveryStreamName}: delivery failed, retrying: ${message}`,
        );
        lastLogged = message;
      }
    }
    schedule();
  };

  const pollMs = Math.max(10, Math.min(250, bufferIntervalMs));
  function schedule(): void {
    if (!closed) timer = setTimeout(() => void tick(), pollMs).unref();
  }
  schedule();

  let closing: Promise<void> | undefined;
  return {
    get delivered() {
      return delivered;
    },
    flush() {
      if (closed) return Promise.reject(new Error('The Firehose delivery is closed'));
      return exclusive(flushNow);
    },
    close() {
      closing ??= (async () => {
        closed = true;
        if (timer !== undefined) clearTimeout(timer);
        try {
          await exclusive(flushNow);
        } finally {
          kinesis.destroy();
          s3.destroy();
        }
      })();
      return closing;
    },
  };
}
