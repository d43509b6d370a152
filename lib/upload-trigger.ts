import { Duration } from 'aws-cdk-lib';
import { Match, Rule } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { UPLOAD_QUEUE } from '../functions/registry.ts';

export interface UploadTriggerProps {
  /** Bucket whose Object Created events start the flow; it must have EventBridge notifications on. */
  readonly bucket: IBucket;
  /** Only keys under this prefix trigger, so the pipeline's own outputs never re-enter it. */
  readonly keyPrefix: string;
  /**
   * Function that consumes the queue in batches: the event source mapping names exactly this
   * ARN, so pass an alias (SluiceFunction's `live`) for deploys to move what consumes.
   */
  readonly consumer: IFunction;
  /** The consumer's timeout; the queue's visibility timeout is derived from it. */
  readonly consumerTimeout: Duration;

  /**
   * Upper bound of concurrent consumer invocations the event source scales to (2–1000).
   * @default - no limit beyond the function's own concurrency
   */
  readonly maxConcurrency?: number;

  /**
   * Receives before a message moves to the dead-letter queue.
   * @default - the registry's `UPLOAD_QUEUE.maxReceiveCount`, which the local queue uses too
   */
  readonly maxReceiveCount?: number;
}

/**
 * S3 Object Created events for one prefix, routed by an EventBridge rule to an SQS queue (with a
 * dead-letter queue) that a function consumes in batches with partial batch failures.
 */
export class UploadTrigger extends Construct {
  /** The rule matching Object Created events under the prefix. */
  public readonly rule: Rule;
  /** The queue the rule delivers to and the consumer reads from. */
  public readonly queue: Queue;
  /** Messages the consumer failed `maxReceiveCount` times. */
  public readonly deadLetterQueue: Queue;

  constructor(scope: Construct, id: string, props: UploadTriggerProps) {
    super(scope, id);
    if (!props.keyPrefix.endsWith('/')) {
      throw new Error(`keyPrefix must end with '/', got '${props.keyPrefix}'`);
    }
    const maxReceiveCount = props.maxReceiveCount ?? UPLOAD_QUEUE.maxReceiveCount;
    if (!Number.isInteger(maxReceiveCount) || maxReceiveCount < 1) {
      throw new Error(`maxReceiveCount must be a positive integer, got ${maxReceiveCount}`);
    }
    if (
      props.maxConcurrency !== undefined &&
      (props.maxConcurrency < 2 || props.maxConcurrency > 1000)
    ) {
      throw new Error(
        `maxConcurrency must be 2–1000 (an SQS event source limit), got ${props.maxConcurrency}`,
      );
    }

    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // AWS's guidance for Lambda consumers: six times the function timeout, so retries by the
      // poller don't make a message visible again while a batch is still in flight.
      visibilityTimeout: Duration.seconds(props.consumerTimeout.toSeconds() * 6),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount },
    });

    this.rule = new Rule(this, 'ObjectCreated', {
      description: `S3 Object Created under ${props.keyPrefix} to the upload queue`,
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: {
          bucket: { name: [props.bucket.bucketName] },
          object: { key: Match.prefix(props.keyPrefix) },
        },
      },
      targets: [new SqsQueue(this.queue)],
    });

    props.consumer.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: UPLOAD_QUEUE.batchSize,
        reportBatchItemFailures: true,
        maxConcurrency: props.maxConcurrency,
      }),
    );
  }
}
