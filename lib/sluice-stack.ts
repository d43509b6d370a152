import * as path from 'node:path';
import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type { ThrottleSettings } from 'aws-cdk-lib/aws-apigatewayv2';
import { AttributeType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { BlockPublicAccess, Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { AGGREGATES_PREFIX, INCOMING_PREFIX, LEDGER } from '../functions/commons/constants.ts';
import { readDeclaration, SCHEDULES_FILE } from '../functions/commons/schedules.ts';
import { FUNCTIONS, type FunctionDefinition } from '../functions/registry.ts';
import { AggregatesDelivery } from './aggregates-delivery.ts';
import { AslStateMachine } from './asl-state-machine.ts';
import { BatchSchedules } from './batch-schedules.ts';
import { connectFunction } from './function-access.ts';
import { type ApiAuthorization, SluiceHttpApi } from './http-api.ts';
import { Observability } from './observability.ts';
import { ProcessBatch } from './process-batch.ts';
import { PROJECT_ROOT, SluiceFunction } from './sluice-function.ts';
import { UploadTrigger } from './upload-trigger.ts';

/** Registry id of the function the upload queue feeds. */
export const START_FUNCTION_ID = 'StartExecution';
/** Registry id of the function that ends a batch with its summary. */
const SUMMARISE_FUNCTION_ID = 'SummariseBatch';
/** Run on a schedule when some dataset declares expectations. */
const EXPECTATIONS_FUNCTION_ID = 'CheckExpectations';
/** Registry id of the function behind every route of the HTTP API. */
export const API_FUNCTION_ID = 'HttpApi';

export interface SluiceStackProps extends StackProps {
  /**
   * The functions to deploy.
   * @default FUNCTIONS from functions/registry.ts
   */
  readonly functions?: readonly FunctionDefinition[];

  /**
   * Directory that registry entries, the lock file and `statemachine/` are relative to.
   * @default the repository root
   */
  readonly projectRoot?: string;

  /**
   * Reserve each function's registry `concurrency` (see SluiceFunctionProps.reserveConcurrency).
   * @default false
   */
  readonly reserveConcurrency?: boolean;

  /**
   * The batch schedules' declarations (`readSchedules`); an absent file declares none.
   * @default `<projectRoot>/schedules.json`
   */
  readonly schedulesFile?: string;

  /**
   * How the HTTP API authorizes callers; lib/app.ts reads it from the context
   * (`apiAuthorizationFromContext`).
   * @default - IAM: SigV4-signed requests from principals allowed `execute-api:Invoke`
   */
  readonly apiAuthorization?: ApiAuthorization;

  /**
   * The HTTP API's rate and burst limits.
   * @default DEFAULT_API_THROTTLE from lib/http-api.ts
   */
  readonly apiThrottle?: ThrottleSettings;
}

/**
 * sluice on AWS: uploads under `incoming/` start a ProcessFile execution through EventBridge, SQS
 * and the start function; the state machine runs the registry's functions, records each file in
 * the ledger table and publishes aggregates through Kinesis and Firehose back to the bucket.
 * ProcessBatch runs ProcessFile over a listed prefix, started by hand or by the declared schedules.
 */
export class SluiceStack extends Stack {
  /** Uploads, outputs, quarantine and delivered aggregates. */
  public readonly bucket: Bucket;
  /** The main bucket's server access logs. */
  public readonly accessLogsBucket: Bucket;
  /** The run ledger. */
  public readonly table: TableV2;
  /** Every registry function, by id. */
  public readonly functions: Readonly<Record<string, SluiceFunction>>;
  /** ProcessFile, loaded from statemachine/process-file.asl.json. */
  public readonly processFile: AslStateMachine;
  /** ProcessBatch, loaded from statemachine/process-batch.asl.json. */
  public readonly processBatch: ProcessBatch;
  /** The declared batch schedules and their dead-letter queue. */
  public readonly schedules: BatchSchedules;
  /** The Object Created rule, the upload queue and its dead-letter queue. */
  public readonly uploads: UploadTrigger;
  /** The aggregate stream and its Firehose delivery. */
  public readonly aggregates: AggregatesDelivery;
  /** The HTTP API: presigned uploads and files' statuses, through the API function. */
  public readonly api: SluiceHttpApi;
  /** The alarms, the SNS topic they notify and the dashboard. */
  public readonly observability: Observability;

  constructor(scope: Construct, id: string, props: SluiceStackProps = {}) {
    super(scope, id, props);
    const projectRoot = props.projectRoot ?? PROJECT_ROOT;
    const definitions = props.functions ?? FUNCTIONS;

    this.accessLogsBucket = new Bucket(this, 'AccessLogsBucket', {
      // Server access log delivery supports SSE-S3 only.
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      lifecycleRules: [
        { expiration: Duration.days(90), abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
    this.bucket = new Bucket(this, 'Bucket', {
      eventBridgeEnabled: true,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'bucket/',
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      // Executions are named after the object version, so a re-upload is a new execution.
      versioned: true,
      lifecycleRules: [
        {
          noncurrentVersionExpiration: Duration.days(30),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
    });

    this.table = new TableV2(this, 'Ledger', {
      partitionKey: { name: LEDGER.partitionKey, type: AttributeType.STRING },
      sortKey: { name: LEDGER.sortKey, type: AttributeType.STRING },
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      globalSecondaryIndexes: [
        {
          indexName: LEDGER.statusIndex,
          partitionKey: { name: LEDGER.statusIndexPartitionKey, type: AttributeType.STRING },
          sortKey: { name: LEDGER.statusIndexSortKey, type: AttributeType.STRING },
        },
      ],
    });

    this.aggregates = new AggregatesDelivery(this, 'Aggregates', {
      bucket: this.bucket,
      prefix: AGGREGATES_PREFIX,
    });

    const functions: Record<string, SluiceFunction> = {};
    for (const definition of definitions) {
      if (functions[definition.id]) {
        throw new Error(`Function id '${definition.id}' appears twice in the registry`);
      }
      functions[definition.id] = new SluiceFunction(this, definition.id, {
        definition,
        projectRoot,
        reserveConcurrency: props.reserveConcurrency,
      });
    }
    this.functions = functions;

    const start = functions[START_FUNCTION_ID];
    if (start === undefined) {
      throw new Error(
        `The registry has no '${START_FUNCTION_ID}' function, got: ${Object.keys(functions).join(', ')}`,
      );
    }
    const api = functions[API_FUNCTION_ID];
    if (api === undefined) {
      throw new Error(
        `The registry has no '${API_FUNCTION_ID}' function, got: ${Object.keys(functions).join(', ')}`,
      );
    }
    // The queue invokes the start function and API Gateway the API's; no state may name them.
    const { [START_FUNCTION_ID]: _start, [API_FUNCTION_ID]: _api, ...stepFunctions } = functions;
    // The machines invoke each function's `live` alias, never $LATEST.
    const machineFunctions = Object.fromEntries(
      Object.entries(stepFunctions).map(([fid, fn]): [string, IFunction] => [fid, fn.alias]),
    );
    this.processFile = new AslStateMachine(this, 'ProcessFile', {
      definitionFile: path.join(projectRoot, 'statemachine', 'process-file.asl.json'),
      functions: machineFunctions,
      table: this.table,
    });
    this.processBatch = new ProcessBatch(this, 'ProcessBatch', {
      definitionFile: path.join(projectRoot, 'statemachine', 'process-batch.asl.json'),
      bucket: this.bucket,
      processFile: this.processFile.stateMachine,
      functions: machineFunctions,
      table: this.table,
    });
    // A Map that exceeded its tolerated failures gives no results location in its output:
    // SummariseBatch finds the manifest through the batch's Map Run.
    functions[SUMMARISE_FUNCTION_ID]?.function.addToRolePolicy(
      new PolicyStatement({
        actions: ['states:ListMapRuns'],
        resources: [this.processBatch.executionsArn],
      }),
    );
    const declaration = readDeclaration(
      props.schedulesFile ?? path.join(projectRoot, SCHEDULES_FILE),
    );
    this.schedules = new BatchSchedules(this, 'Schedules', {
      stateMachine: this.processBatch.stateMachine,
      schedules: declaration.schedules,
      expectationCheck:
        declaration.expectations.length > 0
          ? functions[EXPECTATIONS_FUNCTION_ID]?.alias
          : undefined,
    });

    this.uploads = new UploadTrigger(this, 'Uploads', {
      bucket: this.bucket,
      keyPrefix: INCOMING_PREFIX,
      consumer: start.alias,
      consumerTimeout: Duration.seconds(start.definition.timeoutSeconds),
      // The SQS event source caps the start function's concurrency without reserving any.
      maxConcurrency: Math.max(2, start.definition.concurrency),
    });

    this.api = new SluiceHttpApi(this, 'Api', {
      handler: api.alias,
      authorization: props.apiAuthorization,
      throttle: props.apiThrottle,
    });

    this.observability = new Observability(this, 'Observability', {
      processFile: this.processFile.stateMachine,
      processBatch: this.processBatch.stateMachine,
      functions: Object.values(functions),
      uploadQueue: this.uploads.queue,
      uploadDeadLetterQueue: this.uploads.deadLetterQueue,
      scheduleDeadLetterQueue: this.schedules.deadLetterQueue,
      stream: this.aggregates.stream,
      deliveryStream: this.aggregates.deliveryStream,
      table: this.table,
      api: this.api.api,
    });
    // After the topic exists: RecordOutcome and SummariseBatch publish notices to it.
    const resources = {
      bucket: this.bucket,
      table: this.table,
      stream: this.aggregates.stream,
      stateMachine: this.processFile.stateMachine,
      noticeTopic: this.observability.topic,
      noticeKey: this.observability.key,
      expectations: declaration.expectations,
    };
    for (const fn of Object.values(functions)) {
      connectFunction(fn, resources);
    }

    new CfnOutput(this, 'AlarmTopicArn', {
      value: this.observability.topic.topicArn,
      description:
        'The SNS topic every alarm notifies, and failed or quarantined files and batches over tolerance; subscribe to it (README: Alarms)',
    });

    new CfnOutput(this, 'ApiUrl', {
      value: this.api.url,
      description: `The HTTP API (${this.api.authorization.kind === 'jwt' ? 'a bearer JWT' : 'SigV4-signed requests'} on every route)`,
    });
    new CfnOutput(this, 'BucketName', {
      value: this.bucket.bucketName,
      description: 'Upload files under incoming/<dataset>/',
    });
    new CfnOutput(this, 'StateMachineArn', {
      value: this.processFile.stateMachine.stateMachineArn,
      description: 'ProcessFile',
    });
    new CfnOutput(this, 'BatchStateMachineArn', {
      value: this.processBatch.stateMachine.stateMachineArn,
      description: 'ProcessBatch',
    });
    new CfnOutput(this, 'TableName', { value: this.table.tableName, description: 'Run ledger' });
    new CfnOutput(this, 'StreamName', {
      value: this.aggregates.stream.streamName,
      description: 'Aggregate records, one per processed file (Kinesis, delivered by Firehose)',
    });
    new CfnOutput(this, 'DeadLetterQueueUrl', {
      value: this.uploads.deadLetterQueue.queueUrl,
      description: 'Upload events the start function failed on; redrive once fixed',
    });
    new CfnOutput(this, 'ScheduleDeadLetterQueueUrl', {
      value: this.schedules.deadLetterQueue.queueUrl,
      description: 'Scheduled batch starts that failed their retries or came too late',
    });
  }
}
