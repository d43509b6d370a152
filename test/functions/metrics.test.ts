import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ProcessFileState } from '#commons/outcome.ts';
import { startLocalDynamoDb } from '#local/emulators/dynamodb.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION, type LocalEndpoint } from '#local/emulators/endpoint.ts';
import { type LocalS3, localS3Client, startLocalS3 } from '#local/emulators/s3.ts';
import { MessageLog, startLocalSns } from '#local/emulators/sns.ts';
import { lambdaContext } from '../fixtures/functions/lambda-context.ts';

const TABLE = 'sluice-ledger';
const NOTICE_TOPIC = 'arn:aws:sns:us-east-1:000000000000:sluice-notices';
const NOW = new Date('2026-11-22T10:00:03.500Z');

interface Emf {
  readonly _aws: {
    readonly Timestamp: number;
    readonly CloudWatchMetrics: readonly {
      readonly Namespace: string;
      readonly Dimensions: readonly (readonly string[])[];
      readonly Metrics: readonly { readonly Name: string; readonly Unit: string }[];
    }[];
  };
  readonly [key: string]: unknown;
}

const context = lambdaContext('RecordOutcome');

function stateOf(
  key: string,
  kind: 'csv' | 'image',
  extra: Partial<ProcessFileState> = {},
): ProcessFileState {
  return {
    file: {
      bucket: 'sluice-local',
      key,
      versionTag: 'v1',
      size: 2048,
      dataset: key.split('/')[1] ?? 'unknown',
      name: 'file',
      kind,
      receivedAt: '2026-11-22T10:00:00.000Z',
    },
    attempt: 1,
    executionId: `arn:aws:states:us-east-1:000000000000:execution:sluice-ProcessFile:${kind}`,
    startedAt: '2026-11-22T10:00:01.000Z',
    ...extra,
  };
}

const csvSucceeded = stateOf('incoming/orders/jan.csv', 'csv', {
  csv: {
    validation: {
      accepted: true,
      rows: 10,
      invalidRows: 2,
      errors: 2,
      bytes: 2048,
      fields: 3,
      reportKey: 'validated/orders/jan/report.json',
      outputs: ['validated/orders/jan/report.json'],
    },
    profile: null,
  },
});

const imageQuarantined = stateOf('incoming/photos/broken.jpg', 'image', {
  error: { Error: 'UnsupportedFileType', Cause: 'not an image' },
  quarantine: { key: 'quarantine/photos/broken.jpg' },
});

const variant = (key: string, width: number, bytes: number) => ({
  key,
  width,
  height: width,
  format: 'jpeg',
  bytes,
});
const imageSucceeded = stateOf('incoming/photos/cat.jpg', 'image', {
  image: [
    {
      group: 'web',
      source: {
        width: 1600,
        height: 1600,
        format: 'jpeg',
        orientation: null,
        detectedType: 'jpeg',
        extensionMismatch: false,
      },
      variants: [variant('variants/photos/cat/800.jpg', 800, 3000)],
    },
    {
      group: 'thumb',
      source: {
        width: 1600,
        height: 1600,
        format: 'jpeg',
        orientation: null,
        detectedType: 'jpeg',
        extensionMismatch: false,
      },
      variants: [variant('variants/photos/cat/200.jpg', 200, 500)],
    },
  ],
});

let dynamo: LocalEndpoint;
let notices: LocalEndpoint;
let stdout: string[];

/** A fresh copy of the handler's modules, so Powertools reads the env the test set. */
async function loadRecordOutcome(metricsDisabled: boolean) {
  vi.resetModules();
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', String(metricsDisabled));
  return (await import('../../functions/record-outcome.ts')).handler;
}

/** The EMF blobs written to stdout, each parsed; the logger's own lines are left out. */
function emitted(): Emf[] {
  return stdout
    .flatMap((chunk) => chunk.split('\n'))
    .filter((line) => line.trim().startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry): entry is Emf => '_aws' in entry);
}

/** One blob's metrics with their unit and value, and its dimensions with their values. */
function summarise(blob: Emf) {
  const [directive] = blob._aws.CloudWatchMetrics;
  return {
    namespace: directive?.Namespace,
    dimensions: Object.fromEntries(
      (directive?.Dimensions[0] ?? []).map((name) => [name, blob[name]]),
    ),
    dimensionSets: directive?.Dimensions.length,
    metrics: Object.fromEntries(
      (directive?.Metrics ?? []).map(({ Name, Unit }) => [Name, { unit: Unit, value: blob[Name] }]),
    ),
  };
}

describe('RecordOutcome metrics (EMF)', () => {
  beforeAll(async () => {
    dynamo = await startLocalDynamoDb({ tableName: TABLE });
    notices = await startLocalSns({ topicArn: NOTICE_TOPIC, log: new MessageLog() });
  });

  afterAll(async () => {
    await dynamo.close();
    await notices.close();
  });

  beforeEach(() => {
    vi.stubEnv('TABLE_NAME', TABLE);
    vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', dynamo.endpoint);
    vi.stubEnv('NOTICE_TOPIC_ARN', NOTICE_TOPIC);
    vi.stubEnv('AWS_ENDPOINT_URL_SNS', notices.endpoint);
    vi.stubEnv('AWS_REGION', LOCAL_REGION);
    vi.stubEnv('AWS_ACCESS_KEY_ID', LOCAL_CREDENTIALS.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', LOCAL_CREDENTIALS.secretAccessKey);
    vi.stubEnv('AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED', 'true');
    // Only Date: the SDK and dynalite need real timers.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(NOW);
    stdout = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stdout.push(String(chunk));
      return true;
    });
  });

  afterEach(() => {
    vi.restoreAllMocks();
    vi.useRealTimers();
    vi.unstubAllEnvs();
  });

  it('emits Files by dataset, kind and status, and rows and duration by dataset, for a CSV', async () => {
    // Prepare
    const handler = await loadRecordOutcome(false);

    // Act
    const result = await handler(csvSucceeded, context);

    // Assess
    expect(result.status).toBe('SUCCEEDED');
    const blobs = emitted().map(summarise);
    expect(blobs).toEqual([
      {
        namespace: 'sluice',
        dimensions: { service: 'sluice', dataset: 'orders', kind: 'csv', status: 'SUCCEEDED' },
        dimensionSets: 1,
        metrics: { Files: { unit: 'Count', value: 1 } },
      },
      {
        namespace: 'sluice',
        dimensions: { service: 'sluice', dataset: 'orders' },
        dimensionSets: 1,
        metrics: {
          Rows: { unit: 'Count', value: 10 },
          InvalidRows: { unit: 'Count', value: 2 },
          FileDuration: { unit: 'Milliseconds', value: 2500 },
        },
      },
    ]);
    expect(emitted()[0]?._aws.Timestamp).toBe(NOW.getTime());
  });

  it('emits a QUARANTINED image with no row or variant metrics, after its ledger item', async () => {
    // Prepare
    const handler = await loadRecordOutcome(false);

    // Act
    await handler(imageQuarantined, context);

    // Assess
    expect(emitted().map(summarise)).toEqual([
      {
        namespace: 'sluice',
        dimensions: { service: 'sluice', dataset: 'photos', kind: 'image', status: 'QUARANTINED' },
        dimensionSets: 1,
        metrics: { Files: { unit: 'Count', value: 1 } },
      },
      {
        namespace: 'sluice',
        dimensions: { service: 'sluice', dataset: 'photos' },
        dimensionSets: 1,
        metrics: { FileDuration: { unit: 'Milliseconds', value: 2500 } },
      },
    ]);
    const ledger = DynamoDBDocumentClient.from(
      new DynamoDBClient({
        endpoint: dynamo.endpoint,
        region: LOCAL_REGION,
        credentials: LOCAL_CREDENTIALS,
      }),
    );
    const { Item } = await ledger.send(
      new GetCommand({
        TableName: TABLE,
        Key: { pk: 'sluice-local/incoming/photos/broken.jpg', sk: 'v1#1' },
      }),
    );
    ledger.destroy();
    expect(Item?.status).toBe('QUARANTINED');
  });

  it('emits the bytes of every variant written for an image, in Bytes', async () => {
    // Prepare
    const handler = await loadRecordOutcome(false);

    // Act
    await handler(imageSucceeded, context);

    // Assess
    const [files, perDataset] = emitted().map(summarise);
    expect(files?.dimensions).toEqual({
      service: 'sluice',
      dataset: 'photos',
      kind: 'image',
      status: 'SUCCEEDED',
    });
    expect(perDataset?.dimensions).toEqual({ service: 'sluice', dataset: 'photos' });
    expect(perDataset?.metrics).toEqual({
      VariantBytes: { unit: 'Bytes', value: 3500 },
      FileDuration: { unit: 'Milliseconds', value: 2500 },
    });
  });

  it('emits nothing when POWERTOOLS_METRICS_DISABLED is true, and still records the file', async () => {
    // Prepare
    const handler = await loadRecordOutcome(true);

    // Act
    const first = await handler(csvSucceeded, context);
    const second = await handler(imageQuarantined, context);

    // Assess
    expect([first.status, second.status]).toEqual(['SUCCEEDED', 'QUARANTINED']);
    expect(emitted()).toEqual([]);
    expect(stdout.join('')).toContain('"message":"recorded"');
  });
});

describe('publishBatchMetrics', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  it('emits BatchFiles per status and BatchExceeded with the service dimension only', async () => {
    // Prepare
    vi.resetModules();
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    const { publishBatchMetrics } = await import('#commons/helpers/metrics.ts');
    stdout = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stdout.push(String(chunk));
      return true;
    });

    // Act
    publishBatchMetrics({ counts: { SUCCEEDED: 3, QUARANTINED: 1 }, exceeded: true });

    // Assess
    expect(emitted().map(summarise)).toEqual([
      {
        namespace: 'sluice',
        dimensions: { service: 'sluice', status: 'SUCCEEDED' },
        dimensionSets: 1,
        metrics: { BatchFiles: { unit: 'Count', value: 3 } },
      },
      {
        namespace: 'sluice',
        dimensions: { service: 'sluice', status: 'QUARANTINED' },
        dimensionSets: 1,
        metrics: { BatchFiles: { unit: 'Count', value: 1 } },
      },
      {
        namespace: 'sluice',
        dimensions: { service: 'sluice' },
        dimensionSets: 1,
        metrics: { BatchExceeded: { unit: 'Count', value: 1 } },
      },
    ]);
  });
});

describe('fileTask InputErrors (EMF)', () => {
  const BUCKET = 'sluice-local';
  const validateCsvContext = lambdaContext('ValidateCsv');
  let directory: string;
  let s3: LocalS3;
  let stderr: string[];

  /** A file task's input for an upload under `incoming/<dataset>/`. */
  const inputOf = (key: string) => ({
    file: stateOf(key, 'csv').file,
    executionId: 'arn:aws:states:us-east-1:000000000000:execution:sluice-ProcessFile:x',
  });

  const put = async (key: string, body: string) => {
    const client = localS3Client(s3.endpoint);
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    client.destroy();
  };

  /** Fresh modules, so Powertools reads the env the test set and errors share one class graph. */
  async function load(metricsDisabled: boolean) {
    vi.resetModules();
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', String(metricsDisabled));
    return {
      validateCsv: (await import('../../functions/validate-csv.ts')).handler,
      ...(await import('#commons/helpers/handler.ts')),
      ...(await import('#commons/errors.ts')),
    };
  }

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'sluice-metrics-'));
    s3 = await startLocalS3({ directory, bucket: BUCKET, onObjectCreated: () => {} });
    await put('incoming/orders/empty.csv', '');
    await put('incoming/broken/rows.csv', 'id\n1\n');
    // A field type that Table Schema does not have: the configuration's fault, not the file's.
    await put('schemas/broken.json', JSON.stringify({ fields: [{ name: 'id', type: 'money' }] }));
  });

  afterAll(async () => {
    await s3.close();
    await rm(directory, { recursive: true, force: true });
  });

  beforeEach(() => {
    vi.stubEnv('AWS_ENDPOINT_URL_S3', s3.endpoint);
    vi.stubEnv('AWS_REGION', LOCAL_REGION);
    vi.stubEnv('AWS_ACCESS_KEY_ID', LOCAL_CREDENTIALS.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', LOCAL_CREDENTIALS.secretAccessKey);
    vi.stubEnv('AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED', 'true');
    stdout = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stdout.push(String(chunk));
      return true;
    });
    // The logger writes its errors here; kept off the test output.
    stderr = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stderr.push(String(chunk));
      return true;
    });
  });

  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  it('emits InputErrors by function_name when a file task throws an InputError', async () => {
    // Prepare
    const { validateCsv, InputError } = await load(false);

    // Act
    const error = await validateCsv(inputOf('incoming/orders/empty.csv'), validateCsvContext).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );

    // Assess
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).name).toBe('EmptyCsv');
    expect(emitted().map(summarise)).toEqual([
      {
        namespace: 'sluice',
        dimensions: { service: 'sluice', function_name: 'sluice-ValidateCsv' },
        dimensionSets: 1,
        metrics: { InputErrors: { unit: 'Count', value: 1 } },
      },
    ]);
  });

  it("emits nothing for a ConfigurationError: a bad schema is not the file's fault", async () => {
    // Prepare
    const { validateCsv, ConfigurationError } = await load(false);

    // Act
    const error = await validateCsv(inputOf('incoming/broken/rows.csv'), validateCsvContext).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );

    // Assess
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(emitted()).toEqual([]);
    expect(stderr.join('')).toContain('"message":"task failed"');
  });

  it.each([
    [
      'a throttled SDK call (a TransientError)',
      Object.assign(new Error('Rate exceeded'), {
        name: 'ThrottlingException',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
      }),
      'TransientError',
    ],
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'key')"), 'TypeError'],
  ])('emits nothing for %s', async (_, thrown, name) => {
    // Prepare
    const { fileTask } = await load(false);
    const task = fileTask(async () => {
      throw thrown;
    });

    // Act
    const error = await task(inputOf('incoming/orders/jan.csv'), validateCsvContext).then(
      () => undefined,
      (caught: unknown) => caught,
    );

    // Assess
    expect((error as Error).name).toBe(name);
    expect(emitted()).toEqual([]);
    expect(stderr.join('')).toContain('"message":"task failed"');
  });

  it('emits nothing when POWERTOOLS_METRICS_DISABLED is true, and still throws the InputError', async () => {
    // Prepare
    const { validateCsv } = await load(true);

    // Act
    const error = await validateCsv(inputOf('incoming/orders/empty.csv'), validateCsvContext).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );

    // Assess
    expect((error as Error).name).toBe('EmptyCsv');
    expect(emitted()).toEqual([]);
    expect(stderr.join('')).toContain('"message":"task failed"');
  });
});
