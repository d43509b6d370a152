import { Duration, RemovalPolicy, Size, Stack, Validations } from 'aws-cdk-lib';
import { Policy, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Stream, StreamEncryption, StreamMode } from 'aws-cdk-lib/aws-kinesis';
import {
  DeliveryStream,
  EnableLogging,
  KinesisStreamSource,
  S3Bucket,
} from 'aws-cdk-lib/aws-kinesisfirehose';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
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

/** What Firehose needs of its S3 destination (AWS's policy for it), on the bucket itself. */
const DELIVERY_BUCKET_ACTIONS = [
  's3:GetBucketLocation',
  's3:ListBucket',
  's3:ListBucketMultipartUploads',
];
/** …and on the objects under its two prefixes. */
const DELIVERY_OBJECT_ACTIONS = ['s3:AbortMultipartUpload', 's3:GetObject', 's3:PutObject'];

/**
 * A Kinesis data stream delivered by Firehose to S3 as date-partitioned objects. Firehose
 * concatenates records with no delimiter, so producers must put records that already end in a
 * newline for the objects to be newline-delimited JSON. The delivery role may write under
 * `prefix` and `errorPrefix` only, and log to its own group.
 */
export class AggregatesDelivery extends Construct {
  /** The stream producers put aggregate records on. */
  public readonly stream: Stream;
  /** The Firehose delivery stream reading it. */
  public readonly deliveryStream: DeliveryStream;
  /** The role Firehose writes to the bucket with. */
  public readonly destinationRole: Role;
  /** Firehose's delivery error log group. */
  public readonly logGroup: LogGroup;
  /** The two folders it writes under, `prefix` and `errorPrefix`. */
  public readonly prefixes: readonly string[];

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
    this.prefixes = [props.prefix, errorPrefix];
    this.logGroup = new LogGroup(this, 'LogGroup', {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.destinationRole = new Role(this, 'DestinationRole', {
      assumedBy: new ServicePrincipal('firehose.amazonaws.com'),
      description: 'Firehose delivery of the aggregate stream to its bucket prefixes',
    });
    const destinationPolicy = new Policy(this, 'DestinationPolicy', {
      roles: [this.destinationRole],
      statements: [
        new PolicyStatement({
          actions: DELIVERY_BUCKET_ACTIONS,
          resources: [props.bucket.bucketArn],
        }),
        new PolicyStatement({
          actions: DELIVERY_OBJECT_ACTIONS,
          resources: this.prefixes.map((prefix) => props.bucket.arnForObjects(`${prefix}*`)),
        }),
        new PolicyStatement({
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [this.logGroup.logGroupArn],
        }),
      ],
    });
    this.deliveryStream = new DeliveryStream(this, 'DeliveryStream', {
      source: new KinesisStreamSource(this.stream),
      destination: new S3Bucket(props.bucket, {
        // The L2 would grant read-write on the whole bucket to the role it is given; it gets an
        // immutable view, and the statements above are the role's only ones.
        role: this.destinationRole.withoutPolicyUpdates(),
        loggingConfig: new EnableLogging(this.logGroup),
        // Spelled out rather than left to Firehose's default so it reads like the offline loop's layout.
        dataOutputPrefix: `${props.prefix}!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/!{timestamp:HH}/`,
        errorOutputPrefix: `${errorPrefix}!{firehose:error-output-type}/!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/`,
        bufferingInterval: props.bufferingInterval ?? Duration.seconds(60),
        bufferingSize: Size.mebibytes(5),
      }),
    });
    this.deliveryStream.node.addDependency(destinationPolicy);
    // The Firehose L2 always adds a region→CIDR mapping for VPC destinations; an S3 destination
    // never reads it.
    Validations.of(Stack.of(this)).acknowledge({
      id: 'CloudFormation-Validate::W7001',
      reason: 'Unused awscdkawskinesisfirehoseCidrBlocks mapping added by the Firehose L2',
    });
  }
}
