import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  createReadStream,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EndpointInfo } from '#local/service/endpoint-file.ts';

const ROOT = join(import.meta.dirname, '../..');
const CLI = join(ROOT, 'cli/sluice.js');
const PHOTO = join(ROOT, 'sample-data/photos/dunes-small.png');
const BADGE = join(ROOT, 'sample-data/photos/badge.png');
const run = promisify(execFile);

interface Up {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** The exit code, once the process has exited. */
  readonly exited: Promise<number | null>;
}

/** `sluice up` as a user starts it: its own process, no AWS settings inherited. */
function sluiceUp(...args: string[]): Up {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_')),
  );
  const child = spawn(process.execPath, [CLI, 'up', ...args], { cwd: ROOT, env });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Resolves once `ready` is printed; rejects if the process exits first. */
async function ready(up: Up): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      if (/^ready$/m.test(up.stdout())) resolve();
    };
    up.child.stdout?.on('data', check);
    check();
    void up.exited.then((code) =>
      reject(new Error(`sluice up exited with ${code} before ready:\n${up.stderr()}`)),
    );
  });
}

/** Polls `read` until `done` says yes, or fails after `timeoutMs`. */
async function until<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

// One `sluice up` for the whole file: starting it is the slow part.
let dataDir: string;
let up: Up;
let info: EndpointInfo;
/** The env that the `export` line printed by `sluice up` sets. */
let exported: Record<string, string>;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'sluice-up-'));
  up = sluiceUp('--port', '0', '--data-dir', dataDir);
  await ready(up);
  info = JSON.parse(readFileSync(join(dataDir, 'endpoint.json'), 'utf8'));
  const line = up
    .stdout()
    .split('\n')
    .find((l) => l.startsWith('export '));
  exported = Object.fromEntries(
    (line ?? '')
      .slice('export '.length)
      .split(' ')
      .map((pair) => pair.split('=') as [string, string]),
  );
});

afterAll(async () => {
  if (up && up.child.exitCode === null) {
    up.child.kill('SIGKILL');
    await up.exited;
  }
  rmSync(dataDir, { recursive: true, force: true });
});

describe('sluice up', () => {
  it('prints the endpoint, the resource names and a line of env to paste, then ready', () => {
    // Assess
    const lines = up.stdout().trim().split('\n');
    expect(info.pid).toBe(up.child.pid);
    expect(info.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(lines).toContain(`endpoint: ${info.endpoint}`);
    expect(lines).toContain('bucket: sluice-local');
    expect(lines).toContain('table: sluice-ledger');
    expect(lines).toContain('stream: sluice-aggregates');
    expect(lines).toContain(`state machine ProcessFile: ${info.stateMachines.ProcessFile}`);
    expect(exported).toEqual({
      AWS_ENDPOINT_URL: info.endpoint,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_REGION: 'us-east-1',
      // The AWS CLI v1 and boto3 read only this one.
      AWS_DEFAULT_REGION: 'us-east-1',
    });
    expect(lines.at(-1)).toBe('ready');
  });

  it('answers its controls: health like LocalStack, and endpoint.json', async () => {
    // Act
    const health = await (await fetch(`${info.endpoint}/_sluice/health`)).json();
    const endpoint = await (await fetch(`${info.endpoint}/_sluice/endpoint`)).json();

    // Assess
    expect(health).toMatchObject({
      services: {
        s3: 'running',
        dynamodb: 'running',
        kinesis: 'running',
        stepfunctions: 'running',
      },
      version: expect.any(String),
    });
    expect(endpoint).toEqual(info);
  });
});

describe('SDK v3 clients with nothing but the env', () => {
  const KEY = 'incoming/photos/My Trip (1).png';
  const ENV = ['AWS_ENDPOINT_URL', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION'];
  const saved = Object.fromEntries(ENV.map((name) => [name, process.env[name]]));
  let s3: S3Client;
  let sfn: SFNClient;
  let ddb: DynamoDBDocumentClient;

  beforeAll(() => {
    process.env.AWS_ENDPOINT_URL = info.endpoint;
    process.env.AWS_ACCESS_KEY_ID = 'anything';
    process.env.AWS_SECRET_ACCESS_KEY = 'anything';
    process.env.AWS_REGION = 'us-east-1';
    // No endpoint, region, credentials, path style or checksum options: the SDK's defaults.
    s3 = new S3Client({});
    sfn = new SFNClient({});
    ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  });

  afterAll(() => {
    s3?.destroy();
    sfn?.destroy();
    ddb?.destroy();
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  /** The execution started for an object key, once ListExecutions shows it. */
  async function executionFor(key: string): Promise<DescribeExecutionCommandOutput> {
    const arn = info.stateMachines.ProcessFile as string;
    return until(
      async () => {
        const { executions = [] } = await sfn.send(
          new ListExecutionsCommand({ stateMachineArn: arn }),
        );
        for (const { executionArn } of executions) {
          const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
          if (JSON.parse(described.input ?? '{}').file?.key === key) return described;
        }
        return undefined;
      },
      (found) => found !== undefined && found.status !== 'RUNNING',
    ) as Promise<DescribeExecutionCommandOutput>;
  }

  it('uploads a photo, follows its execution to SUCCEEDED and finds it in the ledger', async () => {
    // Prepare
    const photo = readFileSync(PHOTO);

    // Act: a stream body, which the SDK sends aws-chunked with a CRC32 trailer.
    await s3.send(
      new PutObjectCommand({
        Bucket: info.bucket,
        Key: KEY,
        Body: createReadStream(PHOTO),
        ContentLength: photo.length,
        ContentType: 'image/png',
      }),
    );
    const execution = await executionFor(KEY);
    const history = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn: execution.executionArn }),
    );
    const ledger = await until(
      () =>
        ddb.send(
          new QueryCommand({
            TableName: info.table,
            IndexName: 'byDatasetStatus',
            KeyConditionExpression: 'dataset = :dataset AND begins_with(statusAt, :status)',
            ExpressionAttributeValues: { ':dataset': 'photos', ':status': 'SUCCEEDED#' },
          }),
        ),
      (page) => (page.Items ?? []).some((item) => item.key === KEY),
    );
    const stored = await s3.send(new GetObjectCommand({ Bucket: info.bucket, Key: KEY }));

    // Assess
    expect(execution.status).toBe('SUCCEEDED');
    const types = (history.events ?? []).map((event) => event.type);
    expect(types[0]).toBe('ExecutionStarted');
    expect(types.at(-1)).toBe('ExecutionSucceeded');
    expect(types).toContain('MapIterationSucceeded');
    const item = (ledger.Items ?? []).find((i) => i.key === KEY);
    expect(item).toMatchObject({ status: 'SUCCEEDED', executionId: execution.executionArn });
    expect(item?.statusAt).toMatch(/^SUCCEEDED#\d{4}-\d\d-\d\dT/);
    const bytes = Buffer.from(await (stored.Body?.transformToByteArray() ?? new Uint8Array()));
    expect(stored.ContentEncoding).toBeUndefined();
    expect(bytes.equals(photo)).toBe(true);
  }, 90_000);
});

describe('the AWS CLI with the printed env', () => {
  const KEY = 'incoming/photos/badge copy (2).png';

  /** `aws …` with the env `sluice up` printed, and no config files of the machine. */
  async function aws(...args: string[]): Promise<Buffer> {
    const { stdout } = await run('aws', args, {
      encoding: 'buffer',
      maxBuffer: 64 * 1024 * 1024,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        AWS_CONFIG_FILE: join(dataDir, 'no-aws-config'),
        AWS_SHARED_CREDENTIALS_FILE: join(dataDir, 'no-aws-credentials'),
        ...exported,
      },
    });
    return stdout;
  }
  const awsJson = async (...args: string[]) => JSON.parse((await aws(...args)).toString('utf8'));

  it('copies, lists and reads back an object, byte for byte', async () => {
    // Act
    await aws('s3', 'cp', BADGE, `s3://${info.bucket}/${KEY}`, '--only-show-errors');
    const listing = (await aws('s3', 'ls', `s3://${info.bucket}/incoming/photos/`)).toString();
    const back = await aws('s3', 'cp', `s3://${info.bucket}/${KEY}`, '-');

    // Assess
    expect(listing).toMatch(/ badge copy \(2\)\.png$/m);
    expect(back.equals(readFileSync(BADGE))).toBe(true);
  }, 60_000);

  it('follows the execution, reads its history and finds the ledger item', async () => {
    // Prepare
    const arn = info.stateMachines.ProcessFile as string;

    // Act
    const execution = await until(
      async () => {
        const { executions } = await awsJson(
          'stepfunctions',
          'list-executions',
          '--state-machine-arn',
          arn,
        );
        for (const { executionArn } of executions as { executionArn: string }[]) {
          const described = await awsJson(
            'stepfunctions',
            'describe-execution',
            '--execution-arn',
            executionArn,
          );
          if (JSON.parse(described.input).file.key === KEY) return described;
        }
        return undefined;
      },
      (found) => found !== undefined && found.status !== 'RUNNING',
    );
    const history = await awsJson(
      'stepfunctions',
      'get-execution-history',
      '--execution-arn',
      execution.executionArn,
    );
    const scan = await awsJson('dynamodb', 'scan', '--table-name', info.table);
    const machines = await awsJson('stepfunctions', 'list-state-machines');

    // Assess
    expect(execution.status).toBe('SUCCEEDED');
    const types = history.events.map((event: { type: string }) => event.type);
    expect(types.at(-1)).toBe('ExecutionSucceeded');
    expect(scan.Items).toContainEqual(
      expect.objectContaining({ key: { S: KEY }, status: { S: 'SUCCEEDED' } }),
    );
    expect(machines.stateMachines).toContainEqual(
      expect.objectContaining({ stateMachineArn: arn }),
    );
  }, 90_000);

  it('redrives a failed execution', async () => {
    // Prepare: an input the state machine cannot read fails its first state.
    const arn = info.stateMachines.ProcessFile as string;
    const { executionArn } = await awsJson(
      'stepfunctions',
      'start-execution',
      '--state-machine-arn',
      arn,
      '--name',
      'no-file-in-input',
      '--input',
      '{}',
    );
    const describe = () =>
      awsJson('stepfunctions', 'describe-execution', '--execution-arn', executionArn);
    await until(describe, (e) => e.status === 'FAILED');

    // Act
    const redriven = await awsJson(
      'stepfunctions',
      'redrive-execution',
      '--execution-arn',
      executionArn,
    );
    const after = await until(describe, (e) => e.redriveCount === 1 && e.status !== 'RUNNING');

    // Assess
    expect(redriven.redriveDate).toEqual(expect.any(Number));
    expect(after).toMatchObject({ status: 'FAILED', redriveCount: 1 });
  }, 60_000);
});

describe('one sluice per data dir and per port', () => {
  it('refuses a second sluice on the same data dir in one line, exit 2, and the first goes on', async () => {
    // Act
    const second = sluiceUp('--port', '0', '--data-dir', dataDir);
    const code = await second.exited;
    const health = await fetch(`${info.endpoint}/_sluice/health`);

    // Assess
    expect(code).toBe(2);
    expect(second.stderr()).toBe(
      `sluice: another sluice (pid ${up.child.pid}) is using ${dataDir}; stop it first, or use another --data-dir\n`,
    );
    expect(second.stdout()).toBe('');
    expect(health.status).toBe(200);
    expect(readFileSync(join(dataDir, 'sluice.lock'), 'utf8')).toBe(`${up.child.pid}\n`);
  });

  it('refuses a port in use in one line, exit 2, and leaves the other data dir unlocked', async () => {
    // Prepare
    const otherDir = mkdtempSync(join(tmpdir(), 'sluice-up-other-'));
    const { port } = new URL(info.endpoint);

    try {
      // Act
      const second = sluiceUp('--port', port, '--data-dir', otherDir);
      const code = await second.exited;

      // Assess
      expect(code).toBe(2);
      expect(second.stderr()).toBe(
        `sluice: port ${port} on 127.0.0.1 is already in use; pick another with --port (0 picks a free one)\n`,
      );
      expect(existsSync(join(otherDir, 'sluice.lock'))).toBe(false);
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
  });

  it('explains the env line and the default port in --help', async () => {
    // Act
    const { stdout } = await run(process.execPath, [CLI, 'up', '--help'], { cwd: ROOT });

    // Assess
    expect(stdout).toContain('(default: 4599)');
    expect(stdout).toContain('export AWS_ENDPOINT_URL=http://127.0.0.1:4599');
    expect(stdout).toContain('/_sluice/health');
  });
});

describe('faults on a running sluice up', () => {
  const faultsUrl = () => `${info.endpoint}/_sluice/faults`;
  const post = (body: string) => fetch(faultsUrl(), { method: 'POST', body });
  let s3: S3Client;

  beforeAll(() => {
    s3 = new S3Client({
      endpoint: info.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      forcePathStyle: true,
      maxAttempts: 1,
    });
  });

  afterAll(async () => {
    await post('[]');
    s3?.destroy();
  });

  it('reads and replaces its rules at /_sluice/faults, as LocalStack does at /_localstack/chaos/faults', async () => {
    // Prepare
    const rule = {
      service: 's3',
      operation: 'PutObject',
      error: { code: 'SlowDown', statusCode: 503 },
    };

    // Act
    const set = await post(JSON.stringify([rule]));
    const read = await (await fetch(faultsUrl())).json();
    const failure = await s3
      .send(new PutObjectCommand({ Bucket: info.bucket, Key: 'faulted.txt', Body: 'f' }))
      .catch((error: Error & { $metadata?: { httpStatusCode?: number } }) => error);
    const cleared = await post('[]');
    const after = await s3.send(
      new PutObjectCommand({ Bucket: info.bucket, Key: 'faulted.txt', Body: 'f' }),
    );

    // Assess
    expect(set.status).toBe(200);
    expect(read).toEqual([expect.objectContaining(rule)]);
    expect(failure).toMatchObject({ name: 'SlowDown', $metadata: { httpStatusCode: 503 } });
    expect(await cleared.json()).toEqual([]);
    expect(after.$metadata.httpStatusCode).toBe(200);
  });

  it('refuses bad rules with a 400 that names the rule and the field, and keeps the old ones', async () => {
    // Prepare
    await post(JSON.stringify([{ service: 'dynamodb', latency: 1 }]));

    // Act
    const bad = await post(JSON.stringify([{ service: 's3', probability: 'often', reset: true }]));
    const read = await (await fetch(faultsUrl())).json();
    await post('[]');

    // Assess
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({
      error: 'InvalidFaultRules',
      message: expect.stringContaining('rule 1 (s3): probability'),
    });
    expect(read).toEqual([expect.objectContaining({ service: 'dynamodb', latency: 1 })]);
  });

  it('refuses a bad --faults file in one line, exit 2, before anything starts', async () => {
    // Prepare
    const otherDir = mkdtempSync(join(tmpdir(), 'sluice-up-faults-'));
    const rules = join(otherDir, 'faults.json');
    writeFileSync(
      rules,
      JSON.stringify([{ service: 'kinesis', recordFailures: { code: 'Nope' } }]),
    );

    try {
      // Act
      const second = sluiceUp('--port', '0', '--data-dir', otherDir, '--faults', rules);
      const code = await second.exited;

      // Assess
      expect(code).toBe(2);
      expect(second.stderr()).toMatch(
        /^sluice: .*faults\.json: rule 1 \(kinesis\): recordFailures\.code: .*\n$/,
      );
      expect(existsSync(join(otherDir, 'sluice.lock'))).toBe(false);
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
  });
});

describe('batch schedules', () => {
  it("prints one line per schedule of the project's schedules.json, with its next run", () => {
    // Assess
    expect(up.stdout()).toMatch(
      /^schedule orders-nightly: cron\(0 2 \* \* \? \*\) Europe\/London, next \d{4}-\d\d-\d\dT0[12]:00:00Z$/m,
    );
    expect(existsSync(join(dataDir, 'schedules', 'state.json'))).toBe(true);
  });

  it('refuses a bad --schedules file in one line naming the schedule, exit 2, before anything starts', async () => {
    // Prepare
    const otherDir = mkdtempSync(join(tmpdir(), 'sluice-up-schedules-'));
    const declaration = join(otherDir, 'schedules.json');
    writeFileSync(
      declaration,
      JSON.stringify({
        datasets: ['orders'],
        schedules: [
          { name: 'orders-nightly', dataset: 'orders', expression: 'cron(0 2 * * ? *)' },
          { name: 'photos-hourly', dataset: 'photos', expression: 'rate(1 hour)' },
        ],
      }),
    );

    try {
      // Act
      const second = sluiceUp('--port', '0', '--data-dir', otherDir, '--schedules', declaration);
      const code = await second.exited;

      // Assess
      expect(code).toBe(2);
      expect(second.stderr()).toBe(
        `sluice: ${declaration}: schedule 'photos-hourly': dataset: 'photos' is not one of the declared datasets (orders)\n`,
      );
      expect(second.stdout()).toBe('');
      expect(existsSync(join(otherDir, 'sluice.lock'))).toBe(false);
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
  });
});

describe('stopping', () => {
  it('stops on SIGTERM with exit 0 within 10 s, and removes endpoint.json and the lock', async () => {
    // Act
    const started = Date.now();
    up.child.kill('SIGTERM');
    const code = await up.exited;
    const took = Date.now() - started;

    // Assess
    expect(code).toBe(0);
    expect(took).toBeLessThan(10_000);
    expect(existsSync(join(dataDir, 'endpoint.json'))).toBe(false);
    expect(existsSync(join(dataDir, 'sluice.lock'))).toBe(false);
  });

  it('writes what the fault layer injected to faults-report.json, and one line to stderr', () => {
    // Act
    const report = JSON.parse(readFileSync(join(dataDir, 'faults-report.json'), 'utf8'));

    // Assess
    expect(report.injected.faults).toContainEqual({
      service: 's3',
      operation: 'PutObject',
      effect: 'error',
      code: 'SlowDown',
      count: 1,
    });
    expect(report.calls.s3).toBeGreaterThan(1);
    expect(up.stderr()).toMatch(
      /^sluice: faults injected \d+ in \d+ calls \(.*s3 1.*\); report: .*faults-report\.json$/m,
    );
  });
});
