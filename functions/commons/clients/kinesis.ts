import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { CLIENT_DEFAULTS } from './defaults.ts';

/** HTTP/1.1: PutRecords needs no HTTP/2, and kinesalite speaks only HTTP/1.1. */
export const kinesis = new KinesisClient({
  ...CLIENT_DEFAULTS,
  requestHandler: new NodeHttpHandler(),
});
