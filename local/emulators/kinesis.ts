import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import {
  AddTagsToStreamCommand,
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  ResourceInUseException,
  ResourceNotFoundException,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import kinesalite from 'kinesalite';
import { CLIENT_DEFAULTS } from '#commons/clients/defaults.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION, type LocalEndpoint, serveEmulator } from './endpoint.ts';

/**
 * A tag set on the streams created here, unique to each creation. Sequence numbers from an
 * earlier stream of the same name (an in-memory one, say) can look valid in a new one created in
 * the same second, so the local Firehose keeps this with its checkpoint and drops a checkpoint
 * whose incarnation differs.
 */
export const INCARNATION_TAG = 'sluice.local-incarnation';

/** A Kinesis client for a local endpoint: kinesalite speaks HTTP/1.1 only. */
export function localKinesisClient(endpoint: string): KinesisClient {
  return new KinesisClient({
    ...CLIENT_DEFAULTS,
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    requestHandler: new NodeHttpHandler(),
  });
}

async function ensureStream(
  client: KinesisClient,
  streamName: string,
  shardCount: number,
): Promise<void> {
  let created = false;
  try {
    await client.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: shardCount }));
    created = true;
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      const { StreamDescriptionSummary } = await client.send(
        new DescribeStreamSummaryCommand({ StreamName: streamName }),
      );
      if (StreamDescriptionSummary?.StreamStatus === 'ACTIVE') {
        if (created) {
          await client.send(
            new AddTagsToStreamCommand({
              StreamName: streamName,
              Tags: { [INCARNATION_TAG]: randomUUID() },
            }),
          );
        }
        return;
      }
    } catch (error) {
      if (!(error instanceof ResourceNotFoundException)) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`local Kinesis: stream ${streamName} did not become ACTIVE`);
}

/**
 * kinesalite on an ephemeral loopback port, in memory when `path` is undefined, else on disk
 * (LevelDB) under `path`. Creates the stream (`shardCount`, default 1) if missing, and resolves
 * once it is ACTIVE.
 */
export async function startLocalKinesis(options: {
  readonly path?: string;
  readonly streamName: string;
  readonly shardCount?: number;
}): Promise<LocalEndpoint> {
  if (options.path !== undefined) await mkdir(options.path, { recursive: true });
  const server = kinesalite({
    ...(options.path === undefined ? {} : { path: options.path }),
    createStreamMs: 0,
    deleteStreamMs: 0,
    updateStreamMs: 0,
  });
  return serveEmulator(server, async (endpoint) => {
    const client = localKinesisClient(endpoint);
    try {
      await ensureStream(client, options.streamName, options.shardCount ?? 1);
    } finally {
      client.destroy();
    }
  });
}
