import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import {
  AwsJsonError,
  LOCAL_ACCOUNT_ID,
  LOCAL_REGION,
  type LocalEndpoint,
  serveJsonProtocol,
} from './endpoint.ts';
import type { LocalQueue } from './queue.ts';

type Json = ReturnType<typeof JSON.parse>;

export interface SqsApiOptions {
  readonly queue: LocalQueue;
  readonly queueName: string;
  readonly deadLetterQueueName: string;
}

interface MoveTask {
  readonly TaskHandle: string;
  readonly Status: 'COMPLETED';
  readonly SourceArn: string;
  readonly DestinationArn: string;
  readonly ApproximateNumberOfMessagesMoved: number;
  readonly ApproximateNumberOfMessagesToMove: number;
  readonly StartedTimestamp: number;
}

/** A local queue's URL on an endpoint, in SQS's shape: `<endpoint>/<account>/<name>`. */
export const localQueueUrl = (endpoint: string, name: string): string =>
  `${endpoint}/${LOCAL_ACCOUNT_ID}/${name}`;

const arn = (name: string) => `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${name}`;

/**
 * The part of the SQS API (JSON protocol) that ops use on the upload queue and its dead-letter
 * queue: finding them, their depth, and moving dead letters back (StartMessageMoveTask), so
 * `sluice redrive --dlq` makes the same calls locally as on AWS. The queue itself is fed by the
 * S3 event bridge, not by SendMessage.
 */
export class SqsApi {
  private readonly tasks: MoveTask[] = [];
  private server?: LocalEndpoint;
  private endpoint = 'http://127.0.0.1';

  constructor(private readonly options: SqsApiOptions) {}

  async listen(): Promise<LocalEndpoint> {
    this.server = await serveJsonProtocol('SQS', this.operations);
    this.endpoint = this.server.endpoint;
    return this.server;
  }

  async close(): Promise<void> {
    await this.server?.close();
  }

  /**
   * A queue's URL on the host the request came to (the edge, usually): SDKs send later calls to
   * the host of the QueueUrl they were given.
   */
  private url(name: string, request: IncomingMessage): string {
    const host = request.headers.host;
    return localQueueUrl(host ? `http://${host}` : this.endpoint, name);
  }

  /** The queue a URL or ARN names: 'queue' or 'dlq'. */
  private which(urlOrArn: unknown): 'queue' | 'dlq' {
    const name = String(urlOrArn ?? '')
      .split(/[/:]/)
      .pop();
    if (name === this.options.queueName) return 'queue';
    if (name === this.options.deadLetterQueueName) return 'dlq';
    throw new AwsJsonError('QueueDoesNotExist', `The specified queue does not exist: ${urlOrArn}`);
  }

  private readonly operations: Record<string, (body: Json, request: IncomingMessage) => unknown> = {
    ListQueues: (body, request) => ({
      QueueUrls: [this.options.queueName, this.options.deadLetterQueueName]
        .filter((name) => name.startsWith(body.QueueNamePrefix ?? ''))
        .map((name) => this.url(name, request)),
    }),
    GetQueueUrl: (body, request) => {
      const which = this.which(body.QueueName);
      const name = which === 'queue' ? this.options.queueName : this.options.deadLetterQueueName;
      return { QueueUrl: this.url(name, request) };
    },
    GetQueueAttributes: (body) => {
      const { queue, queueName, deadLetterQueueName } = this.options;
      const dlq = this.which(body.QueueUrl) === 'dlq';
      return {
        Attributes: {
          QueueArn: arn(dlq ? deadLetterQueueName : queueName),
          ApproximateNumberOfMessages: String(dlq ? queue.deadLetters.length : queue.visible),
          ApproximateNumberOfMessagesNotVisible: String(dlq ? 0 : queue.depth - queue.visible),
          ...(dlq
            ? {}
            : {
                RedrivePolicy: JSON.stringify({
                  deadLetterTargetArn: arn(deadLetterQueueName),
                  maxReceiveCount: queue.maxReceiveCount,
                }),
              }),
        },
      };
    },
    StartMessageMoveTask: (body) => {
      if (this.which(body.SourceArn) !== 'dlq') {
        throw new AwsJsonError(
          'InvalidParameterValue',
          `Source queue must be configured as a Dead Letter Queue: ${body.SourceArn}`,
        );
      }
      if (body.DestinationArn !== undefined && this.which(body.DestinationArn) !== 'queue') {
        throw new AwsJsonError('InvalidParameterValue', 'Destination must be the source queue');
      }
      const moved = this.options.queue.redriveDeadLetters();
      const task: MoveTask = {
        TaskHandle: randomUUID(),
        Status: 'COMPLETED',
        SourceArn: arn(this.options.deadLetterQueueName),
        DestinationArn: arn(this.options.queueName),
        ApproximateNumberOfMessagesMoved: moved,
        ApproximateNumberOfMessagesToMove: moved,
        StartedTimestamp: Date.now(),
      };
      this.tasks.unshift(task);
      return { TaskHandle: task.TaskHandle };
    },
    ListMessageMoveTasks: (body) => {
      this.which(body.SourceArn);
      return { Results: this.tasks.slice(0, body.MaxResults ?? 1) };
    },
  };
}
