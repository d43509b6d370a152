import { BATCH_RESULTS_PREFIX, BATCHES_PREFIX } from '#commons/batch.ts';
import {
  ENV,
  INCOMING_PREFIX,
  QUARANTINE_PREFIX,
  SCHEMAS_PREFIX,
  VALIDATED_PREFIX,
  VARIANTS_PREFIX,
} from '#commons/constants.ts';

/**
 * What a function may touch besides the bucket's objects. CDK turns each into a grant plus its
 * env var, and the local runtime into the env var alone, so a function can never get one without
 * the other.
 * - `table:read`: GetItem and Query on the ledger and its `byDatasetStatus` index;
 * - `table:write`: PutItem on the ledger (every ledger write puts a whole item);
 * - `stream:write`: PutRecords on the aggregate stream;
 * - `executions:start`: StartExecution of ProcessFile, and DescribeExecution of its executions;
 * - `executions:read`: DescribeExecution of ProcessFile's executions;
 * - `notices:publish`: Publish to the notice topic (the alarms' topic);
 * - `expectations:read`: the datasets' declared arrival and row counts, as JSON in its env.
 */
export type Access =
  | 'table:read'
  | 'table:write'
  | 'stream:write'
  | 'executions:start'
  | 'executions:read'
  | 'notices:publish'
  | 'expectations:read';

/**
 * The bucket's objects a function touches, by key prefix: each a folder ending in `/`, which CDK
 * grants as `<prefix>*` and nothing wider. Any prefix also gives the function the bucket's name.
 */
export interface ObjectAccess {
  /** Prefixes whose objects it reads (GetObject, HeadObject). */
  readonly read?: readonly string[];
  /**
   * Prefixes whose objects it reads when they exist, taking NoSuchKey for "none". S3 answers
   * NoSuchKey only to a caller that may list the bucket, and AccessDenied to any other.
   */
  readonly readIfPresent?: readonly string[];
  /** Prefixes it writes objects under, multipart uploads included. */
  readonly write?: readonly string[];
}

export interface FunctionDefinition {
  /** Stable id: the CDK construct id, and `${<id>FunctionArn}` in the ASL files. */
  readonly id: string;
  /** Handler module, relative to the project root; it exports `handler`. */
  readonly entry: string;
  readonly description: string;
  readonly memorySize: number;
  readonly timeoutSeconds: number;
  /** Concurrent executions; the local runtime enforces the same limit. */
  readonly concurrency: number;
  readonly access: readonly Access[];
  /**
   * The bucket's objects it reads and writes.
   * @default - none: no S3 access and no bucket name
   */
  readonly objects?: ObjectAccess;
  /** Packages installed next to the bundle instead of bundled (native code). */
  readonly nodeModules?: readonly string[];
}

/**
 * How every function is bundled, by CDK's NodejsFunction for AWS and by esbuild for the local
 * runtime alike, so that offline runs the code a deploy ships: ESM, minified with names kept,
 * the AWS SDK inside the bundle, and only `nodeModules` installed beside it.
 */
export const BUNDLING = {
  format: 'esm',
  mainFields: ['module', 'main'],
  // esbuild's ESM output keeps CommonJS dependencies' `require` calls; Node's ESM loader has no
  // `require`, so the bundle recreates it.
  banner:
    "import { createRequire as __sluiceCreateRequire } from 'node:module'; const require = __sluiceCreateRequire(import.meta.url);",
  minify: true,
  // Error class names reach logs and stack traces; ASL matches the explicit `name` fields.
  keepNames: true,
} as const;

/** The one list of functions that `lib/` deploys and `local/` runs. */
export const FUNCTIONS = [
  {
    id: 'StartExecution',
    entry: 'functions/start-execution.ts',
    description: 'Turns S3 Object Created events from SQS into ProcessFile executions',
    memorySize: 256,
    timeoutSeconds: 30,
    concurrency: 2,
    access: ['executions:start', 'table:write'],
  },
  {
    id: 'PlanImage',
    entry: 'functions/plan-image.ts',
    description: "Reads the dataset's variant config and splits it into Map branches",
    memorySize: 256,
    timeoutSeconds: 30,
    concurrency: 4,
    access: [],
    objects: { readIfPresent: [SCHEMAS_PREFIX] },
  },
  {
    id: 'ResizeImage',
    entry: 'functions/resize-image.ts',
    description: 'Makes one variant group of an image with sharp',
    memorySize: 2048,
    timeoutSeconds: 120,
    concurrency: 2,
    access: [],
    objects: { read: [INCOMING_PREFIX], write: [VARIANTS_PREFIX] },
    nodeModules: ['sharp'],
  },
  {
    id: 'ValidateCsv',
    entry: 'functions/validate-csv.ts',
    description:
      "Validates a CSV against its dataset's Table Schema and splits valid and invalid rows",
    memorySize: 1024,
    timeoutSeconds: 900,
    concurrency: 2,
    access: [],
    objects: {
      read: [INCOMING_PREFIX],
      readIfPresent: [SCHEMAS_PREFIX],
      write: [VALIDATED_PREFIX],
    },
  },
  {
    id: 'ProfileCsv',
    entry: 'functions/profile-csv.ts',
    description: 'Computes per-column statistics of a CSV in one streaming pass',
    memorySize: 1024,
    timeoutSeconds: 900,
    concurrency: 2,
    access: [],
    objects: { read: [INCOMING_PREFIX], readIfPresent: [SCHEMAS_PREFIX] },
  },
  {
    id: 'RecordOutcome',
    entry: 'functions/record-outcome.ts',
    description: "Records a file's final status, outputs and error in the run ledger",
    memorySize: 256,
    timeoutSeconds: 30,
    concurrency: 4,
    access: ['table:write', 'notices:publish'],
  },
  {
    id: 'QuarantineFile',
    entry: 'functions/quarantine-file.ts',
    description: 'Copies a failed upload to quarantine/, keeping the original',
    memorySize: 256,
    timeoutSeconds: 60,
    concurrency: 4,
    access: [],
    objects: { read: [INCOMING_PREFIX], write: [QUARANTINE_PREFIX] },
  },
  {
    id: 'PublishAggregates',
    entry: 'functions/publish-aggregates.ts',
    description: "Puts the file's aggregate record on the Kinesis stream",
    memorySize: 256,
    timeoutSeconds: 30,
    concurrency: 4,
    access: ['stream:write'],
  },
  {
    id: 'PlanBatchItem',
    entry: 'functions/plan-batch-item.ts',
    description: 'Decides whether a batch processes a listed object, and as which attempt',
    memorySize: 256,
    timeoutSeconds: 30,
    concurrency: 4,
    access: ['table:read', 'executions:read'],
  },
  {
    id: 'SummariseBatch',
    entry: 'functions/summarise-batch.ts',
    description: "Counts a batch's results, records the batch and writes batches/<id>.json",
    memorySize: 512,
    timeoutSeconds: 300,
    concurrency: 2,
    access: ['table:write', 'notices:publish'],
    // The manifest is missing when the Map failed before writing anything.
    objects: { readIfPresent: [BATCH_RESULTS_PREFIX], write: [BATCHES_PREFIX] },
  },
  {
    id: 'CheckExpectations',
    entry: 'functions/check-expectations.ts',
    description:
      "Checks each dataset's declared arrival and row counts against the ledger; a miss publishes a notice",
    memorySize: 256,
    timeoutSeconds: 60,
    concurrency: 1,
    access: ['table:read', 'table:write', 'notices:publish', 'expectations:read'],
  },
  {
    id: 'HttpApi',
    entry: 'functions/http-api.ts',
    description:
      "Answers the HTTP API: presigned uploads under incoming/, and files' statuses from the ledger",
    memorySize: 256,
    timeoutSeconds: 10,
    concurrency: 4,
    access: ['table:read'],
    // A presigned POST carries the signer's own rights: it may put under incoming/, nothing else.
    objects: { readIfPresent: [SCHEMAS_PREFIX], write: [INCOMING_PREFIX] },
  },
] as const satisfies readonly FunctionDefinition[];

export type FunctionId = (typeof FUNCTIONS)[number]['id'];

/** The upload queue's event source and redrive policy: `lib/` deploys it, `local/` emulates it. */
export const UPLOAD_QUEUE = {
  batchSize: 10,
  /** Receives before a message moves to the dead-letter queue. */
  maxReceiveCount: 5,
} as const;

/** The resources whose names reach functions through env vars. */
export interface ResourceNames {
  readonly bucketName: string;
  readonly tableName: string;
  readonly streamName: string;
  readonly stateMachineArn: string;
  readonly noticeTopicArn: string;
  /** Not a name: the declared expectations (`DatasetExpectation[]`) as JSON. */
  readonly expectations: string;
}

/** Every prefix of a function's object access, each once. */
export function objectPrefixes(fn: FunctionDefinition): string[] {
  const { read = [], readIfPresent = [], write = [] } = fn.objects ?? {};
  return [...new Set([...read, ...readIfPresent, ...write])];
}

/** Env vars a function gets for its access list: the same on AWS and offline. */
export function environmentFor(
  fn: FunctionDefinition,
  names: ResourceNames,
): Record<string, string> {
  const env: Record<string, string> = {};
  if (objectPrefixes(fn).length > 0) env[ENV.bucket] = names.bucketName;
  for (const access of fn.access) {
    if (access.startsWith('table:')) env[ENV.table] = names.tableName;
    if (access === 'stream:write') env[ENV.stream] = names.streamName;
    if (access.startsWith('executions:')) env[ENV.stateMachine] = names.stateMachineArn;
    if (access === 'notices:publish') env[ENV.noticeTopic] = names.noticeTopicArn;
    if (access === 'expectations:read') env[ENV.expectations] = names.expectations;
  }
  return env;
}

/** The ASL substitution that carries a function's ARN. */
export function arnSubstitution(id: string): string {
  return `${id}FunctionArn`;
}
