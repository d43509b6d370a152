import { readFileSync } from 'node:fs';
import { Stack, Token } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { INCOMING_PREFIX } from '../functions/commons/constants.ts';
import {
  AslStateMachine,
  eachObject,
  executionsOf,
  namedMachineArns,
} from './asl-state-machine.ts';

/** The ASL placeholders ProcessBatch has beside its function ARNs. */
export const BATCH_SUBSTITUTIONS = {
  bucket: 'BucketName',
  processFile: 'ProcessFileStateMachineArn',
} as const;

/** The Distributed Map's listing of the batch's prefix. */
export const S3_LIST_OBJECTS = 'arn:aws:states:::s3:listObjectsV2';
/** The Distributed Map's export of its Map Run results. */
export const S3_PUT_OBJECT = 'arn:aws:states:::s3:putObject';
/**
 * A ProcessFile child run to its end. `:2` makes the child's Output a JSON object rather than a
 * string, so the ASL's ResultSelector can pick `$.Output.status`; the IAM is the same as `.sync`.
 */
export const START_EXECUTION_SYNC = 'arn:aws:states:::states:startExecution.sync:2';
/** The rule Step Functions manages in the account to learn that a `.sync` child has closed. */
export const SYNC_EVENTS_RULE = 'StepFunctionsGetEventsForStepFunctionsExecutionRule';

export interface ProcessBatchProps {
  /** Path of `process-batch.asl.json`. */
  readonly definitionFile: string;
  /** The bucket the batch lists, and where its Map Run results go. */
  readonly bucket: IBucket;
  /** The machine each listed object runs through, as a child execution. */
  readonly processFile: IStateMachine;
  /** Functions the ASL may call, by registry id. */
  readonly functions: Readonly<Record<string, IFunction>>;
  /** The run ledger (AslStateMachine substitutes `${LedgerTableName}` if the ASL uses it). */
  readonly table: ITableV2;

  /**
   * The state machine's name, which the Distributed Map's own grants are built from.
   * @default `<stack name>-<id>`, e.g. `Sluice-ProcessBatch`
   */
  readonly stateMachineName?: string;

  /**
   * The only keys the batch may list: the `s3:prefix` condition of its `s3:ListBucket`.
   * @default INCOMING_PREFIX, so a batch reprocesses uploads and nothing else
   */
  readonly listPrefix?: string;

  /**
   * How long execution logs are kept.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
}

/**
 * ProcessBatch, loaded from its ASL file: a Distributed Map over an S3 listing whose children run
 * ProcessFile, the path an upload takes. Each integration gets an explicit, least-privilege grant
 * checked against the file: the listing under `listPrefix` of this bucket only, the results export
 * under the ResultWriter's Prefix only, and `.sync` children of ProcessFile only.
 */
export class ProcessBatch extends AslStateMachine {
  /** Where Map Run results land, as the ResultWriter's Prefix says, with a trailing `/`. */
  public readonly resultsPrefix: string;
  /** Its executions, `…:execution:<name>:*`, built from the name so a grant on them makes no cycle. */
  public readonly executionsArn: string;
  /** Its Map Runs, `…:execution:<name>/*:*`, which its Distributed Map may redrive. */
  public readonly mapRunsArn: string;

  constructor(scope: Construct, id: string, props: ProcessBatchProps) {
    const stack = Stack.of(scope);
    const stateMachineName = props.stateMachineName ?? `${stack.stackName}-${id}`;
    if (!Token.isUnresolved(stateMachineName) && !/^[A-Za-z0-9_-]{1,80}$/.test(stateMachineName)) {
      throw new Error(
        `stateMachineName must be 1–80 letters, digits, '-' or '_', got '${stateMachineName}'`,
      );
    }
    const listPrefix = props.listPrefix ?? INCOMING_PREFIX;
    if (!listPrefix.endsWith('/')) {
      throw new Error(`listPrefix must end with '/', got '${listPrefix}'`);
    }
    const definition = JSON.parse(readFileSync(props.definitionFile, 'utf8')) as unknown;
    const bucketPlaceholder = `\${${BATCH_SUBSTITUTIONS.bucket}}`;
    // The grants below are for this bucket and ProcessFile only: a definition naming another
    // would fail at run time with AccessDenied, so it fails the synth instead.
    requireParameter(
      props.definitionFile,
      definition,
      S3_LIST_OBJECTS,
      'Bucket',
      bucketPlaceholder,
    );
    requireParameter(props.definitionFile, definition, S3_PUT_OBJECT, 'Bucket', bucketPlaceholder);
    requireParameter(
      props.definitionFile,
      definition,
      START_EXECUTION_SYNC,
      'StateMachineArn',
      `\${${BATCH_SUBSTITUTIONS.processFile}}`,
    );
    const resultsPrefix = resultWriterPrefix(props.definitionFile, definition);

    const processFileExecutions = executionsOf(props.processFile);
    super(scope, id, {
      definitionFile: props.definitionFile,
      functions: props.functions,
      table: props.table,
      logRetention: props.logRetention,
      stateMachineName,
      substitutions: {
        [BATCH_SUBSTITUTIONS.bucket]: props.bucket.bucketName,
        [BATCH_SUBSTITUTIONS.processFile]: props.processFile.stateMachineArn,
      },
      integrations: {
        [S3_LIST_OBJECTS]: [
          new PolicyStatement({
            actions: ['s3:ListBucket'],
            resources: [props.bucket.bucketArn],
            conditions: { StringLike: { 's3:prefix': `${listPrefix}*` } },
          }),
        ],
        [S3_PUT_OBJECT]: [
          new PolicyStatement({
            // AWS's ResultWriter policy: results go up as multipart uploads, which a failed
            // export aborts, and are read back to finish the manifest.
            actions: [
              's3:PutObject',
              's3:GetObject',
              's3:AbortMultipartUpload',
              's3:ListMultipartUploadParts',
            ],
            resources: [props.bucket.arnForObjects(`${resultsPrefix}*`)],
          }),
        ],
        [START_EXECUTION_SYNC]: [
          new PolicyStatement({
            actions: ['states:StartExecution'],
            resources: [props.processFile.stateMachineArn],
          }),
          new PolicyStatement({
            actions: ['states:DescribeExecution', 'states:StopExecution'],
            resources: [processFileExecutions],
          }),
          new PolicyStatement({
            actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
            resources: [
              stack.formatArn({
                service: 'events',
                resource: 'rule',
                resourceName: SYNC_EVENTS_RULE,
              }),
            ],
          }),
        ],
      },
    });
    this.resultsPrefix = resultsPrefix;
    const own = namedMachineArns(this, stateMachineName);
    this.executionsArn = own.executions;
    this.mapRunsArn = own.mapRuns;
  }
}

/** The `Parameters` of every Task or ItemReader/ResultWriter that calls `resource`. */
function parametersOf(definition: unknown, resource: string): Record<string, unknown>[] {
  const found: Record<string, unknown>[] = [];
  eachObject(definition, (record) => {
    if (record.Resource !== resource) return;
    found.push((record.Parameters ?? {}) as Record<string, unknown>);
  });
  return found;
}

function requireParameter(
  file: string,
  definition: unknown,
  resource: string,
  field: string,
  expected: string,
): void {
  for (const parameters of parametersOf(definition, resource)) {
    const value = parameters[field] ?? parameters[`${field}.$`];
    if (value !== expected) {
      throw new Error(
        `${file}: ${resource} must have ${field} '${expected}', the one it is granted on, got ${JSON.stringify(value)}`,
      );
    }
  }
}

/** The ResultWriter's literal Prefix, as a folder (`batches/results/`). */
function resultWriterPrefix(file: string, definition: unknown): string {
  const prefixes = parametersOf(definition, S3_PUT_OBJECT).map((parameters) => {
    const prefix = parameters.Prefix;
    if (typeof prefix !== 'string' || prefix === '') {
      throw new Error(
        `${file}: the ResultWriter needs a literal Prefix to grant s3:PutObject under, got ${JSON.stringify(prefix ?? parameters['Prefix.$'])}`,
      );
    }
    return prefix.endsWith('/') ? prefix : `${prefix}/`;
  });
  const distinct = [...new Set(prefixes)];
  if (distinct.length !== 1) {
    throw new Error(
      `${file} must write its Map Run results (${S3_PUT_OBJECT}) under one Prefix, got ${distinct.length === 0 ? 'none' : distinct.join(', ')}`,
    );
  }
  return distinct[0] as string;
}
