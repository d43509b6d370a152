import { Duration, Size, Stack, Validations } from 'aws-cdk-lib';
import { Stream, StreamEncryption, StreamMode } from 'aws-cdk-lib/aws-kinesis';
import { DeliveryStream, KinesisStreamSource, S3Bucket } from 'aws-cdk-lib/aws-kinesisfirehose';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface AggregatesDeliveryProps {
  /** Bucket the delivery stream writes to. */
  readonly bucket: IBucket;
  /** Key prefix of delivered objects; Firehose adds the `yyyy/MM/dd/HH/` partition after it. */
  readonly prefix: string;

  /**
   * Key prefix of records Firehose failed to deliver.
   * @default 'aggregates-errors/'
   */
  readonly errorPrefix?: string;

  /**
   * Shards of the stream. One record per processed file needs far less than a shard's 1 MB/s,
   * and a provisioned shard costs about a third of an on-demand stream's hourly charge.
   * @default 1
   */
  readonly shardCount?: number;

  /**
   * How long Firehose buffers before writing an object.
   * @default Duration.seconds(60)
   */
  readonly bufferingInterval?: Duration;
}

/**
 * A Kinesis data stream delivered by Firehose to S3 as date-partitioned objects. Firehose
 * concatenates records with no delimiter, so producers must put records that already end in a
 * newline for the objects to be newline-delimited JSON.
 */
export class AggregatesDelivery extends Construct {
  /** The stream producers put aggregate records on. */
  public readonly stream: Stream;
  /** The Firehose delivery stream reading it. */
  public readonly deliveryStream: DeliveryStream;

  constructor(scope: Construct, id: string, props: AggregatesDeliveryProps) {
    super(scope, id);
    const errorPrefix = props.errorPrefix ?? 'aggregates-errors/';
    for (const [name, value] of [
      ['prefix', props.prefix],
      ['errorPrefix', errorPrefix],
    ] as const) {
      if (!value.endsWith('/') || value.startsWith('/')) {
        throw new Error(`${name} must be a relative folder ending in '/', got '${value}'`);
      }
    }
    if (props.prefix === errorPrefix) {
      throw new Error(`errorPrefix must differ from prefix, both are '${props.prefix}'`);
    }

    const shardCount = props.shardCount ?? 1;
    if (!Number.isInteger(shardCount) || shardCount < 1) {
      throw new Error(`shardCount must be a positive integer, got ${shardCount}`);
    }

    this.stream = new Stream(this, 'Stream', {
      streamMode: StreamMode.PROVISIONED,
      shardCount,
      encryption: StreamEncryption.MANAGED,
    });
    this.deliveryStream = new DeliveryStream(this, 'DeliveryStream', {
      source: new KinesisStreamSource(this.stream),
      destination: new S3Bucket(props.bucket, {
        // Spelled out rather than left to Firehose's default so it reads like the offline loop's layout.
        dataOutputPrefix: `${props.prefix}!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/!{timestamp:HH}/`,
        errorOutputPrefix: `${errorPrefix}!{firehose:error-output-type}/!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/`,
        bufferingInterval: props.bufferingInterval ?? Duration.seconds(60),
        bufferingSize: Size.mebibytes(5),
      }),
    });
    // The Firehose L2 always adds a region→CIDR mapping for VPC destinations; an S3 destination
    // never reads it.
    Validations.of(Stack.of(this)).acknowledge({
      id: 'CloudFormation-Validate::W7001',
      reason: 'Unused awscdkawskinesisfirehoseCidrBlocks mapping added by the Firehose L2',
    });
  }
}
