import { ENV } from '#commons/constants.ts';

/**
 * What a function may touch. CDK turns each into a grant plus its env var, and the local runtime
 * into the env var alone, so a function can never get one without the other.
 */
export type Access =
  | 'bucket:read'
  | 'bucket:write'
  | 'table:read'
  | 'table:write'
  | 'stream:write'
  | 'executions:start'
  | 'executions:read';

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
  /** Packages installed next to the bundle instead of bundled (native code). */
  readonly nodeModules?: readonly string[];
}

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
    access: ['bucket:read'],
  },
  {
    id: 'ResizeImage',
    entry: 'functions/resize-image.ts',
    description: 'Makes one variant group of an image with sharp',
    memorySize: 2048,
    timeoutSeconds: 120,
    concurrency: 2,
    access: ['bucket:read', 'bucket:write'],
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
    access: ['bucket:read', 'bucket:write'],
  },
  {
    id: 'ProfileCsv',
    entry: 'functions/profile-csv.ts',
    description: 'Computes per-column statistics of a CSV in one streaming pass',
    memorySize: 1024,
    timeoutSeconds: 900,
    concurrency: 2,
    access: ['bucket:read'],
  },
  {
    id: 'RecordOutcome',
    entry: 'functions/record-outcome.ts',
    description: "Records a file's final status, outputs and error in the run ledger",
    memorySize: 256,
    timeoutSeconds: 30,
    concurrency: 4,
    access: ['table:write'],
  },
  {
    id: 'QuarantineFile',
    entry: 'functions/quarantine-file.ts',
    description: 'Copies a failed upload to quarantine/, keeping the original',
    memorySize: 256,
    timeoutSeconds: 60,
    concurrency: 4,
    access: ['bucket:read', 'bucket:write'],
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
    access: ['bucket:read', 'bucket:write', 'table:write'],
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
}

/** Env vars a function gets for its access list: the same on AWS and offline. */
export function environmentFor(
  fn: FunctionDefinition,
  names: ResourceNames,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const access of fn.access) {
    if (access.startsWith('bucket:')) env[ENV.bucket] = names.bucketName;
    if (access.startsWith('table:')) env[ENV.table] = names.tableName;
    if (access === 'stream:write') env[ENV.stream] = names.streamName;
    if (access.startsWith('executions:')) env[ENV.stateMachine] = names.stateMachineArn;
  }
  return env;
}

/** The ASL substitution that carries a function's ARN. */
export function arnSubstitution(id: string): string {
  return `${id}FunctionArn`;
}
