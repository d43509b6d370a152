import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/** HTTP/1.1: PutRecords needs no HTTP/2, and kinesalite speaks only HTTP/1.1. */
export const kinesis = new KinesisClient({ requestHandler: new NodeHttpHandler() });
