import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { CLIENT_DEFAULTS } from '#commons/clients/defaults.ts';
import { AGGREGATES_PREFIX, INCOMING_PREFIX } from '#commons/constants.ts';
import type { DatasetExpectation } from '#commons/expectations.ts';
import { RunLedger } from '#commons/run-ledger.ts';
import {
  arnSubstitution,
  environmentFor,
  FUNCTIONS,
  UPLOAD_QUEUE,
} from '../../functions/registry.ts';
import { startLocalDynamoDb } from '../emulators/dynamodb.ts';
import { LOCAL_ACCOUNT_ID, LOCAL_CREDENTIALS, LOCAL_REGION } from '../emulators/endpoint.ts';
import { type FirehoseDelivery, startFirehoseDelivery } from '../emulators/firehose.ts';
import { startLocalKinesis } from '../emulators/kinesis.ts';
import { LocalLambdaRuntime } from '../emulators/lambda-runtime.ts';
import { LocalQueue } from '../emulators/queue.ts';
import { localS3Client, startLocalS3 } from '../emulators/s3.ts';
import { MESSAGE_LOG, MessageLog, type PublishedMessage, startLocalSns } from '../emulators/sns.ts';
import { localQueueUrl, SqsApi } from '../emulators/sqs-api.ts';
import { substituteDefinition } from '../emulators/step-functions/definition.ts';
import { localizeDistributedMaps } from '../emulators/step-functions/distributed-map.ts';
import { LocalStepFunctions } from '../emulators/step-functions/local-step-functions.ts';
import type { FaultLayer } from '../faults/fault-layer.ts';
import { PROJECT_ROOT } from '../project-root.ts';
import { localFunctionArn, localFunctionName, resolveTask } from './task-resolver.ts';

const aslFile = (name: string) => join(PROJECT_ROOT, 'statemachine', `${name}.asl.json`);

const NAMES = {
  bucketName: 'sluice-local',
  tableName: 'sluice-ledger',
  streamName: 'sluice-aggregates',
  stateMachineArn: `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:stateMachine:sluice-ProcessFile`,
  batchStateMachineArn: `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:stateMachine:sluice-ProcessBatch`,
  queueName: 'sluice-uploads',
  deadLetterQueueName: 'sluice-uploads-dlq',
  noticeTopicArn: `arn:aws:sns:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:sluice-notices`,
} as const;

export interface LocalStackOptions {
  /** Keeps the bucket, ledger, stream and executions here; a throwaway stack when absent. */
  readonly dataDir?: string;
  /** Milliseconds between ASL retries instead of the real backoff (tests). */
  readonly retryIntervalMs?: number;
  /**
   * The upload queue's first visibility timeout after a failed delivery (tripled at each
   * receive), for tests that want redeliveries spread over longer than `retryIntervalMs`.
   * @default - `retryIntervalMs`, else 1000
   */
  readonly queueVisibilityTimeoutMs?: number;
  /**
   * Stands in front of every endpoint and the Lambda invoke path once the stack is prepared.
   * @default - no fault layer: calls go straight to the emulators
   */
  readonly faults?: FaultLayer;
  /** Called with each message published to the notice topic (`sluice up` logs it). */
  readonly onNotice?: (message: PublishedMessage) => void;
  /**
   * The datasets' declared expectations, which CheckExpectations checks.
   * @default - none
   */
  readonly expectations?: readonly DatasetExpectation[];
}

/** Live progress of the pipeline while it drains. */
export interface Progress {
  readonly queued: boolean;
  readonly runningExecutions: number;
  readonly invocations: number;
}

/**
 * The whole pipeline offline: s3rver, dynalite and kinesalite in-process, the S3 → EventBridge →
 * SQS path into the start function, the local Step Functions API running the same ASL file, the
 * local Lambda runtime running the same handlers, and the Firehose delivery loop. Handlers see
 * only `AWS_ENDPOINT_URL_*`; nothing in `functions/` knows it runs locally.
 */
export class LocalStack {
  readonly names = NAMES;
  readonly ledger: RunLedger;

  /** The upload queue's dead-letter queue, as the SQS API names it. */
  get deadLetterQueueUrl(): string {
    return localQueueUrl(this.endpoints.sqs, NAMES.deadLetterQueueName);
  }

  private constructor(
    readonly endpoints: Readonly<
      Record<'s3' | 'dynamodb' | 'kinesis' | 'sfn' | 'sqs' | 'sns', string>
    >,
    readonly s3: S3Client,
    readonly dynamodb: DynamoDBDocumentClient,
    readonly sfn: SFNClient,
    readonly sqs: SQSClient,
    readonly runtime: LocalLambdaRuntime,
    readonly stepFunctions: LocalStepFunctions,
    readonly queue: LocalQueue,
    readonly firehose: FirehoseDelivery,
    private readonly closers: readonly (() => Promise<void>)[],
    readonly logDir: string,
    /** What the functions published to the notice topic. */
    readonly notices: MessageLog,
  ) {
    this.ledger = new RunLedger(dynamodb, NAMES.tableName);
  }

  /** Starts an environment of each function an upload goes through, ahead of the uploads. */
  prewarmUploadPath(): void {
    const processFile = readFileSync(aslFile('process-file'), 'utf8');
    this.runtime.prewarm(
      FUNCTIONS.filter(
        (fn) => fn.id === 'StartExecution' || processFile.includes(`\${${arnSubstitution(fn.id)}}`),
      ).map((fn) => fn.id),
    );
  }

  static async start(options: LocalStackOptions = {}): Promise<LocalStack> {
    const ephemeral = options.dataDir === undefined;
    const root = options.dataDir ?? mkdtempSync(join(tmpdir(), 'sluice-'));
    const at = (name: string) => (ephemeral ? undefined : join(root, name));
    const closers: (() => Promise<void>)[] = [];
    try {
      let queue: LocalQueue | undefined;
      const s3Server = await startLocalS3({
        directory: join(root, 's3'),
        bucket: NAMES.bucketName,
        // The EventBridge rule: Object Created under incoming/, on to the SQS queue.
        onObjectCreated: (event) => {
          if (event.detail.object.key.startsWith(INCOMING_PREFIX))
            queue?.send(JSON.stringify(event));
        },
      });
      closers.push(() => s3Server.close());
      const ddb = await startLocalDynamoDb({ path: at('dynamodb'), tableName: NAMES.tableName });
      closers.push(() => ddb.close());
      const kinesis = await startLocalKinesis({
        path: at('kinesis'),
        streamName: NAMES.streamName,
      });
      closers.push(() => kinesis.close());
      const notices = new MessageLog(at(MESSAGE_LOG));
      const sns = await startLocalSns({
        topicArn: NAMES.noticeTopicArn,
        log: notices,
        onPublish: options.onNotice,
      });
      closers.push(() => sns.close());

      const clientConfig = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
      const s3 = localS3Client(s3Server.endpoint);
      const rawDynamodb = new DynamoDBClient({ ...clientConfig, endpoint: ddb.endpoint });
      const dynamodb = DynamoDBDocumentClient.from(rawDynamodb, {
        marshallOptions: { removeUndefinedValues: true },
      });

      let runtime: LocalLambdaRuntime | undefined;
      const invokeFunction = async (id: string, input: unknown) => {
        if (!runtime) throw new Error('The local Lambda runtime is not started');
        return runtime.invoke(id, input);
      };
      const { faults } = options;
      const invoke = faults ? faults.wrapInvoke(invokeFunction) : invokeFunction;
      const substitutions: Record<string, string> = {
        LedgerTableName: NAMES.tableName,
        BucketName: NAMES.bucketName,
        ProcessFileStateMachineArn: NAMES.stateMachineArn,
      };
      for (const fn of FUNCTIONS) substitutions[arnSubstitution(fn.id)] = localFunctionArn(fn.id);
      const definitionOf = (name: string) =>
        localizeDistributedMaps(
          JSON.parse(substituteDefinition(readFileSync(aslFile(name), 'utf8'), substitutions)),
        );
      let sfn: SFNClient | undefined;
      const clients = {
        dynamodb: rawDynamodb,
        s3: () => s3,
        sfn: () => {
          if (!sfn) throw new Error('The local Step Functions API is not listening yet');
          return sfn;
        },
      };
      const stepFunctions = new LocalStepFunctions({
        stateMachines: [
          { arn: NAMES.stateMachineArn, definition: definitionOf('process-file') },
          { arn: NAMES.batchStateMachineArn, definition: definitionOf('process-batch') },
        ],
        // Tasks reach the runtime through `invoke`, which exists by the time any execution starts.
        resolveTask: (resource) => resolveTask(resource, invoke, clients),
        persistDir: at('executions'),
        retryIntervalMs: options.retryIntervalMs,
      });
      const sfnServer = await stepFunctions.listen();
      // Closed in reverse order: Step Functions before the runtime, as a task cut off by a
      // stopping runtime must not look like a task failure to the ASL's Retry and Catch (the
      // executions stay RUNNING for the next start). Both are closed if the runtime never
      // starts, as when a handler does not build; the listening server kept the process alive.
      closers.push(() => runtime?.close() ?? Promise.resolve());
      closers.push(() => stepFunctions.close());
      const sfnEndpoint = sfnServer.endpoint;
      const sfnClient = new SFNClient({
        ...clientConfig,
        ...CLIENT_DEFAULTS,
        endpoint: sfnEndpoint,
      });
      sfn = sfnClient;

      const logDir = join(root, 'logs');
      runtime = await LocalLambdaRuntime.create({
        functions: FUNCTIONS,
        baseEnv: {
          ...inheritedEnv(),
          AWS_REGION: LOCAL_REGION,
          AWS_DEFAULT_REGION: LOCAL_REGION,
          AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
          AWS_ENDPOINT_URL_S3: s3Server.endpoint,
          AWS_ENDPOINT_URL_DYNAMODB: ddb.endpoint,
          AWS_ENDPOINT_URL_KINESIS: kinesis.endpoint,
          AWS_ENDPOINT_URL_SFN: sfnEndpoint,
          AWS_ENDPOINT_URL_SNS: sns.endpoint,
          AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
          AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
          POWERTOOLS_SERVICE_NAME: 'sluice',
          POWERTOOLS_LOG_LEVEL: 'INFO',
          // Offline there is no CloudWatch to read EMF, so metrics are off unless asked for; then
          // they land in the function's log file as on AWS. Set either way, so POWERTOOLS_DEV
          // (which disables metrics when this is unset) cannot decide it.
          POWERTOOLS_METRICS_DISABLED: process.env.SLUICE_METRICS === '1' ? 'false' : 'true',
          // Keeps function logs JSON-only; on AWS the functions run on a current Node LTS.
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        },
        envFor: (fn) =>
          environmentFor(fn, {
            ...NAMES,
            expectations: JSON.stringify(options.expectations ?? []),
          }),
        functionName: (fn) => localFunctionName(fn.id),
        logDir,
        region: LOCAL_REGION,
        account: LOCAL_ACCOUNT_ID,
        idleTimeoutMs: Number(process.env.SLUICE_LAMBDA_IDLE_MS) || undefined,
      });

      queue = new LocalQueue({
        consume: (event) => invoke('StartExecution', event),
        queueArn: `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${NAMES.queueName}`,
        batchSize: UPLOAD_QUEUE.batchSize,
        maxReceiveCount: UPLOAD_QUEUE.maxReceiveCount,
        concurrency: 2,
        visibilityTimeoutMs: options.queueVisibilityTimeoutMs ?? options.retryIntervalMs ?? 1000,
        directory: at('queue'),
      });
      closers.push(async () => queue?.close());
      const sqsApi = new SqsApi({
        queue,
        queueName: NAMES.queueName,
        deadLetterQueueName: NAMES.deadLetterQueueName,
      });
      const sqsServer = await sqsApi.listen();
      const sqsEndpoint = sqsServer.endpoint;
      closers.push(() => sqsApi.close());
      // Every emulator is prepared (bucket, table, stream): from here on, calls may meet faults.
      faults?.wrapServer(s3Server.server, 's3');
      faults?.wrapServer(ddb.server, 'dynamodb');
      faults?.wrapServer(kinesis.server, 'kinesis');
      faults?.wrapServer(sfnServer.server, 'stepfunctions');
      faults?.wrapServer(sqsServer.server, 'sqs');
      faults?.wrapServer(sns.server, 'sns');

      const firehose = startFirehoseDelivery({
        kinesisEndpoint: kinesis.endpoint,
        streamName: NAMES.streamName,
        s3Endpoint: s3Server.endpoint,
        bucket: NAMES.bucketName,
        prefix: AGGREGATES_PREFIX,
        deliveryStreamName: 'sluice-aggregates',
        checkpointPath: at('firehose-checkpoint.json'),
      });
      closers.push(() => firehose.close());
      // What the last process left: queued events are delivered again, executions go on.
      queue.start();
      stepFunctions.resumeRunning();
      if (ephemeral) closers.unshift(async () => rmSync(root, { recursive: true, force: true }));

      const sqs = new SQSClient({ ...clientConfig, ...CLIENT_DEFAULTS, endpoint: sqsEndpoint });
      return new LocalStack(
        {
          s3: s3Server.endpoint,
          dynamodb: ddb.endpoint,
          kinesis: kinesis.endpoint,
          sfn: sfnEndpoint,
          sqs: sqsEndpoint,
          sns: sns.endpoint,
        },
        s3,
        dynamodb,
        sfnClient,
        sqs,
        runtime,
        stepFunctions,
        queue,
        firehose,
        closers,
        logDir,
        notices,
      );
    } catch (error) {
      for (const close of closers.reverse()) await close().catch(() => {});
      throw error;
    }
  }

  /**
   * Resolves once no event is queued, no execution runs and no function is invoked, then lands
   * the aggregates. Checked several times in a row: an upload's event may still be on its way.
   */
  async waitForIdle(onProgress?: (progress: Progress) => void): Promise<void> {
    let quiet = 0;
    while (quiet < 3) {
      const progress: Progress = {
        queued: !this.queue.idle,
        runningExecutions: this.stepFunctions.running,
        invocations: this.runtime.inFlight,
      };
      onProgress?.(progress);
      const idle = !progress.queued && progress.runningExecutions + progress.invocations === 0;
      quiet = idle ? quiet + 1 : 0;
      await new Promise((wake) => setTimeout(wake, 40));
    }
    await this.firehose.flush();
  }

  /** Stops everything in the reverse order of starting, so what depends on a piece goes first. */
  async close(): Promise<void> {
    for (const close of [...this.closers].reverse()) await close();
    this.s3.destroy();
    this.dynamodb.destroy();
    this.sfn.destroy();
    this.sqs.destroy();
  }
}

/** The parts of the parent env a function needs to run at all (no AWS settings leak in). */
function inheritedEnv(): Record<string, string> {
  const keep = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ', 'NODE_OPTIONS'];
  return Object.fromEntries(
    keep.flatMap((key) =>
      process.env[key] === undefined ? [] : [[key, process.env[key] as string]],
    ),
  );
}
