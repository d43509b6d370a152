import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { join, resolve } from 'node:path';
import {
  CloudFormationClient,
  DescribeStacksCommand,
  type Output,
} from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { MESSAGE_LOG, type PublishedMessage, readMessages } from '#local/emulators/sns.ts';
import {
  DEFAULT_DATA_DIR,
  type EndpointInfo,
  InvalidEndpointFile,
  NoRunningStack,
  readEndpointFile as readServiceEndpointFile,
} from '#local/service/endpoint-file.ts';
import {
  EndpointUnreachable,
  InvalidOption,
  StackNotFound,
  StackNotRunning,
  usageErrorOf,
} from './errors.ts';

export { DEFAULT_DATA_DIR };

/** The path under a `sluice up` endpoint that answers with its {@link EndpointInfo}. */
export const ENDPOINT_INFO_PATH = '/_sluice/endpoint';

/** `<data dir>/endpoint.json`, written by a running `sluice up` and served at `/_sluice/endpoint`. */
export type { EndpointInfo };

/** The resources an ops command works on, by the names the stack gave them. */
export interface TargetNames {
  readonly bucket: string;
  readonly table: string;
  /** The aggregate stream; null for a deployed stack from before its `StreamName` output. */
  readonly stream: string | null;
  /** The upload queue's dead-letter queue URL; null for a deployed stack without the output. */
  readonly deadLetterQueue: string | null;
  /** State machine name (`ProcessFile`, `ProcessBatch`) to its ARN. */
  readonly stateMachines: Readonly<Record<string, string>>;
}

/**
 * One stack the ops commands talk to, local or deployed, through the same three APIs: the
 * commands never ask which kind it is except to say where logs are.
 */
export interface OpsTarget {
  readonly kind: 'local' | 'aws';
  /** For messages: `the local stack at http://127.0.0.1:4566`, `stack sluice-prod`. */
  readonly description: string;
  readonly s3: S3Client;
  readonly sfn: SFNClient;
  readonly sqs: SQSClient;
  readonly dynamodb: DynamoDBDocumentClient;
  readonly names: TargetNames;
  /** Local function logs (`<logDir>/<function>.log`, JSON lines); absent on AWS. */
  readonly logDir?: string;
  /**
   * What was published to the local notice topic; absent on AWS, where SNS delivers messages to
   * subscribers and keeps none.
   */
  readonly notices?: () => PublishedMessage[];
  /** Releases the clients this target made (never those it was given). */
  close(): void;
}

/** How the user named the stack: the options every ops command takes. */
export interface TargetOptions {
  readonly dataDir?: string;
  readonly endpoint?: string;
  readonly stack?: string;
  readonly region?: string;
  readonly profile?: string;
}

/** Any credentials do against `sluice up`, which routes by the SigV4 scope and checks none. */
const LOCAL_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' } as const;

/**
 * Resolves the stack the user named: `--stack NAME` (deployed: CloudFormation outputs, standard
 * AWS credentials), `--endpoint URL` (a running `sluice up`), or else `--data-dir D` (the
 * `sluice up` whose `D/endpoint.json` is there, `.sluice` by default).
 * @throws StackNotRunning, EndpointUnreachable, StackNotFound, AwsCredentialsError, InvalidOption
 */
export async function resolveTarget(options: TargetOptions): Promise<OpsTarget> {
  if (options.stack !== undefined && options.endpoint !== undefined) {
    throw new InvalidOption('give either --stack (a deployed stack) or --endpoint, not both');
  }
  if (options.stack !== undefined) return awsTarget(options.stack, options);
  if (options.endpoint !== undefined) {
    const endpoint = normalizeEndpoint(options.endpoint);
    return localTarget(await fetchEndpointInfo(endpoint), endpoint);
  }
  const info = await readEndpointFile(resolve(options.dataDir ?? DEFAULT_DATA_DIR));
  return localTarget(info, info.endpoint);
}

/** The structural part of `LocalStack` that an ops target needs, so tests use their stack. */
export interface LocalStackLike {
  readonly s3: S3Client;
  readonly sfn: SFNClient;
  readonly sqs: SQSClient;
  readonly dynamodb: DynamoDBDocumentClient;
  readonly names: {
    readonly bucketName: string;
    readonly tableName: string;
    readonly streamName: string;
    readonly stateMachineArn: string;
    readonly batchStateMachineArn: string;
  };
  readonly deadLetterQueueUrl: string;
  readonly logDir: string;
  readonly notices: { list(): PublishedMessage[] };
}

/** An ops target over an in-process `LocalStack`'s own clients, which stay the stack's to close. */
export function targetFromLocalStack(stack: LocalStackLike): OpsTarget {
  return {
    kind: 'local',
    description: 'the in-process local stack',
    s3: stack.s3,
    sfn: stack.sfn,
    sqs: stack.sqs,
    dynamodb: stack.dynamodb,
    names: {
      bucket: stack.names.bucketName,
      table: stack.names.tableName,
      stream: stack.names.streamName,
      deadLetterQueue: stack.deadLetterQueueUrl,
      stateMachines: {
        ProcessFile: stack.names.stateMachineArn,
        ProcessBatch: stack.names.batchStateMachineArn,
      },
    },
    logDir: stack.logDir,
    notices: () => stack.notices.list(),
    close() {},
  };
}

/** An ops target on one `sluice up` endpoint, with clients of its own. */
export function localTarget(info: EndpointInfo, endpoint: string = info.endpoint): OpsTarget {
  const config = { endpoint, region: info.region || 'us-east-1', credentials: LOCAL_CREDENTIALS };
  const s3 = new S3Client({
    ...config,
    // A `localhost` endpoint would otherwise send the bucket as a host name.
    forcePathStyle: true,
  });
  const sfn = new SFNClient(config);
  const sqs = new SQSClient(config);
  const dynamodb = documentClient(new DynamoDBClient(config));
  return {
    kind: 'local',
    description: `the local stack at ${endpoint}`,
    s3,
    sfn,
    sqs,
    dynamodb,
    names: {
      bucket: info.bucket,
      table: info.table,
      stream: info.stream ?? null,
      deadLetterQueue: info.queues?.deadLetters ?? null,
      stateMachines: info.stateMachines,
    },
    logDir: info.logDir || undefined,
    notices: () => readMessages(join(info.dataDir, MESSAGE_LOG)),
    close() {
      s3.destroy();
      sfn.destroy();
      sqs.destroy();
      dynamodb.destroy();
    },
  };
}

/** Reads `<dataDir>/endpoint.json` and checks that its `sluice up` still runs and answers. */
export async function readEndpointFile(dataDir: string): Promise<EndpointInfo> {
  let info: EndpointInfo;
  try {
    info = readServiceEndpointFile(dataDir);
  } catch (error) {
    if (error instanceof NoRunningStack || error instanceof InvalidEndpointFile) {
      throw new StackNotRunning(
        `${error.message}; or name a stack with --endpoint URL or --stack NAME`,
      );
    }
    throw error;
  }
  // A live pid may be another process since a crash: only the endpoint itself can tell.
  const served = await fetchEndpointInfo(info.endpoint);
  return { ...served, logDir: served.logDir || info.logDir };
}

/** GETs `<endpoint>/_sluice/endpoint`. */
export async function fetchEndpointInfo(endpoint: string): Promise<EndpointInfo> {
  const url = `${endpoint.replace(/\/+$/, '')}${ENDPOINT_INFO_PATH}`;
  let response: { status: number; body: string };
  try {
    response = await getText(url, 5000);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new EndpointUnreachable(
      `nothing answers at ${endpoint} (${code}): is \`sluice up\` running there?`,
    );
  }
  if (response.status !== 200) {
    throw new EndpointUnreachable(
      `${endpoint} is not a sluice endpoint: GET ${ENDPOINT_INFO_PATH} answered HTTP ${response.status}`,
    );
  }
  try {
    return checkEndpointInfo(JSON.parse(response.body));
  } catch (error) {
    throw new EndpointUnreachable(
      `${endpoint} is not a sluice endpoint: ${ENDPOINT_INFO_PATH} gave ${(error as Error).message}`,
    );
  }
}

/**
 * One GET with node:http rather than fetch, which refuses the ports on the Fetch standard's
 * "bad ports" list (6000, 6665-6669, 10080, …) that a local endpoint may well use.
 */
function getText(url: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const get = url.startsWith('https:') ? httpsGet : httpGet;
    const request = get(url, { timeout: timeoutMs }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      response.on('error', reject);
    });
    request.on('timeout', () =>
      request.destroy(
        Object.assign(new Error(`no answer in ${timeoutMs / 1000} s`), { code: 'ETIMEDOUT' }),
      ),
    );
    request.on('error', reject);
  });
}

function checkEndpointInfo(value: unknown): EndpointInfo {
  const info = value as Partial<EndpointInfo> | null;
  if (typeof info !== 'object' || info === null) throw new Error('no JSON object');
  for (const field of ['endpoint', 'bucket', 'table'] as const) {
    if (typeof info[field] !== 'string' || info[field] === '')
      throw new Error(`no "${field}" string`);
  }
  if (typeof info.stateMachines !== 'object' || info.stateMachines === null) {
    throw new Error('no "stateMachines" object');
  }
  return info as EndpointInfo;
}

function normalizeEndpoint(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new InvalidOption(`--endpoint ${endpoint} is not a URL (e.g. http://127.0.0.1:4566)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidOption(`--endpoint ${endpoint} must be an http:// or https:// URL`);
  }
  return endpoint.replace(/\/+$/, '');
}

/** CloudFormation outputs of a deployed sluice stack (lib/sluice-stack.ts) to resource names. */
export function namesFromStackOutputs(stackName: string, outputs: readonly Output[]): TargetNames {
  const value = (key: string) => outputs.find((o) => o.OutputKey === key)?.OutputValue;
  const bucket = value('BucketName');
  const table = value('TableName');
  const stateMachine = value('StateMachineArn');
  const missing = [
    ['BucketName', bucket],
    ['TableName', table],
    ['StateMachineArn', stateMachine],
  ]
    .filter(([, v]) => !v)
    .map(([k]) => k);
  if (missing.length > 0 || !bucket || !table || !stateMachine) {
    throw new StackNotFound(
      `stack ${stackName} has no ${missing.join(', ')} output: is it a sluice stack?`,
    );
  }
  // A stack deployed before ProcessBatch has no BatchStateMachineArn output.
  const batchStateMachine = value('BatchStateMachineArn');
  return {
    bucket,
    table,
    stream: value('StreamName') ?? null,
    deadLetterQueue: value('DeadLetterQueueUrl') ?? null,
    stateMachines: {
      ProcessFile: stateMachine,
      ...(batchStateMachine ? { ProcessBatch: batchStateMachine } : {}),
    },
  };
}

async function awsTarget(stackName: string, options: TargetOptions): Promise<OpsTarget> {
  const config = {
    ...(options.region ? { region: options.region } : {}),
    ...(options.profile ? { profile: options.profile } : {}),
  };
  const cloudFormation = new CloudFormationClient(config);
  let outputs: Output[];
  try {
    const { Stacks = [] } = await cloudFormation.send(
      new DescribeStacksCommand({ StackName: stackName }),
    );
    outputs = Stacks[0]?.Outputs ?? [];
  } catch (error) {
    if ((error as Error).name === 'ValidationError') {
      throw new StackNotFound(`no CloudFormation stack ${stackName}: ${(error as Error).message}`);
    }
    if (/region is missing/i.test((error as Error).message)) {
      throw new InvalidOption('no AWS region for --stack: pass --region, or set AWS_REGION');
    }
    throw usageErrorOf(error, `CloudFormation (stack ${stackName})`);
  } finally {
    cloudFormation.destroy();
  }
  const names = namesFromStackOutputs(stackName, outputs);
  const s3 = new S3Client(config);
  const sfn = new SFNClient(config);
  const sqs = new SQSClient(config);
  const dynamodb = documentClient(new DynamoDBClient(config));
  return {
    kind: 'aws',
    description: `stack ${stackName}`,
    s3,
    sfn,
    sqs,
    dynamodb,
    names,
    close() {
      s3.destroy();
      sfn.destroy();
      sqs.destroy();
      dynamodb.destroy();
    },
  };
}

function documentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}
