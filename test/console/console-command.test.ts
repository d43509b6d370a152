import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultLayer } from '#local/faults/fault-layer.ts';
import { parseFaultRules } from '#local/faults/rules.ts';
import { LocalStack } from '#local/stack/stack.ts';
import { type OpsTarget, targetFromLocalStack } from '../../cli/ops/target.ts';
import type { ExecutionChange } from '../../console/server/console-server.ts';
import { PollingFeed } from '../../console/server/polling-feed.ts';
import { envWithoutAws, expectUsageError, runSluice } from '../cli/cli-process.ts';
import { until } from '../cli/ops-helpers.ts';
import { type RunningUp, startSluiceUp } from '../e2e/sluice-up.ts';

const ROOT = join(import.meta.dirname, '../..');
const CLI = join(ROOT, 'cli/sluice.js');
/** Debian's chromium, which .ci/run installs when it is missing; playwright's download is not. */
const CHROMIUM = process.env.SLUICE_CHROMIUM ?? '/usr/bin/chromium';

const BADGE = readFileSync(join(ROOT, 'sample-data/photos/badge.png'));
const PHOTO = readFileSync(join(ROOT, 'sample-data/photos/dunes-small.png'));
const FINAL = new Set(['SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED_OUT']);

/** The key of the file an execution's input names. */
const keyOf = (change: ExecutionChange) =>
  (JSON.parse(change.input) as { file?: { key?: string } }).file?.key;

describe('the polling feed, against the local Step Functions and SQS APIs', () => {
  const faults = new FaultLayer();
  let stack: LocalStack;
  let target: OpsTarget;
  let feed: PollingFeed;
  let stop: () => void;
  const changes: ExecutionChange[] = [];
  const logged: string[] = [];

  const put = (key: string, body: Buffer) =>
    stack.s3.send(new PutObjectCommand({ Bucket: stack.names.bucketName, Key: key, Body: body }));
  const changesOf = (key: string) => changes.filter((change) => keyOf(change) === key);

  beforeAll(async () => {
    stack = await LocalStack.start({ faults, retryIntervalMs: 10 });
    target = targetFromLocalStack(stack);
    // Polled by hand: the timer's first poll runs at once, and the next not within the tests.
    feed = new PollingFeed(target, { intervalMs: 3_600_000, log: (line) => logged.push(line) });
    stop = feed.watchExecutions((change) => changes.push(change));
    await feed.poll();
  }, 60_000);

  afterAll(async () => {
    stop?.();
    await stack?.close();
  });

  it('tells an execution that started and ended between two polls once, with how it ended', async () => {
    // Prepare
    const key = 'incoming/photos/between.png';

    // Act
    await put(key, BADGE);
    await stack.waitForIdle();
    await feed.poll();
    await feed.poll();

    // Assess
    const told = changesOf(key);
    expect(told.map((change) => change.status)).toEqual(['SUCCEEDED']);
    expect(told[0]?.stateMachineArn).toBe(stack.names.stateMachineArn);
    expect(JSON.parse(told[0]?.input ?? '{}')).toMatchObject({
      file: { bucket: stack.names.bucketName, key },
      attempt: 1,
    });
  });

  it('tells a running execution, then how it ended, each once', async () => {
    // Prepare: every function call waits, so the execution is running for a few polls.
    const key = 'incoming/photos/slow.png';
    faults.setRules(parseFaultRules([{ service: 'lambda', operation: 'Invoke', latency: 500 }]));

    // Act
    try {
      await put(key, PHOTO);
      while (!changesOf(key).some((change) => FINAL.has(change.status))) await feed.poll();
    } finally {
      faults.setRules([]);
    }
    await feed.poll();

    // Assess
    expect(changesOf(key).map((change) => change.status)).toEqual(['RUNNING', 'SUCCEEDED']);
  });

  it('logs a failing poll once per kind, and catches up at the first poll that gets through', async () => {
    // Prepare
    const key = 'incoming/photos/throttled.png';
    faults.setRules(
      parseFaultRules([
        {
          service: 'stepfunctions',
          operation: 'ListExecutions',
          error: { code: 'ThrottlingException', message: 'Rate exceeded' },
        },
      ]),
    );

    // Act
    try {
      await put(key, Buffer.concat([BADGE, Buffer.from('throttled')]));
      await stack.waitForIdle();
      await feed.poll();
      await feed.poll();
    } finally {
      faults.setRules([]);
    }
    const toldWhileThrottled = changesOf(key).length;
    await feed.poll();

    // Assess
    expect(toldWhileThrottled).toBe(0);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(
      /^sluice console: reading the executions failed \(ThrottlingException\): Rate exceeded; /,
    );
    expect(changesOf(key).map((change) => change.status)).toEqual(['SUCCEEDED']);
  });

  it('counts the upload queue and its dead letters, without reading an event', async () => {
    // Prepare: every start fails, until the upload's event is dead-lettered.
    faults.setRules(
      parseFaultRules([
        { service: 'lambda', operation: 'Invoke', error: { code: 'TooManyRequestsException' } },
      ]),
    );
    try {
      await put('incoming/photos/missed.png', Buffer.concat([BADGE, Buffer.from('missed')]));
      await until(() => stack.queue.deadLetters.length === 1);
    } finally {
      faults.setRules([]);
    }
    const receives = stack.queue.deadLetters[0]?.receiveCount;

    // Act
    await feed.poll();

    // Assess
    expect(feed.uploadPath()).toEqual({
      waiting: [],
      deadLetters: [],
      counts: { waiting: 0, inFlight: 0, deadLetters: 1 },
    });
    expect(stack.queue.deadLetters[0]?.receiveCount).toBe(receives);
  });
});

/** `sluice console <args>` as a user starts it, with what it printed so far. */
interface RunningConsole {
  readonly child: ChildProcess;
  readonly url: string;
  stderr(): string;
}

function startConsole(...args: string[]): Promise<RunningConsole> {
  const child = spawn(process.execPath, [CLI, 'console', ...args], {
    cwd: ROOT,
    env: envWithoutAws(),
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      const url = /^console: (\S+)$/m.exec(stdout)?.[1];
      if (url) resolve({ child, url, stderr: () => stderr });
    });
    child.once('exit', (code) => reject(new Error(`sluice console exited ${code}:\n${stderr}`)));
  });
}

const sluice = runSluice;

describe('sluice console --endpoint, against a running sluice up, in Chromium', () => {
  let up: RunningUp;
  let endpoint: string;
  let running: RunningConsole;
  let s3: S3Client;
  let browser: Browser;
  let page: Page;
  const requested: string[] = [];

  const put = (key: string, body: Buffer) =>
    s3.send(new PutObjectCommand({ Bucket: 'sluice-local', Key: key, Body: body }));
  const statusOf = (key: string) => page.locator(`tr[data-key="${key}"] .status`).first();

  beforeAll(async () => {
    up = await startSluiceUp('--no-console');
    endpoint = up.line('endpoint');
    s3 = new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    await put('incoming/photos/early.png', BADGE);
    running = await startConsole('--endpoint', endpoint, '--port', '0');
    // Until the file is done (a test helper may poll; the page does not).
    for (;;) {
      const { rows } = (await (await fetch(`${running.url}api/files`)).json()) as {
        rows: { key: string; status: string }[];
      };
      if (rows.some((row) => row.key === 'incoming/photos/early.png' && FINAL.has(row.status)))
        break;
      await new Promise((wake) => setTimeout(wake, 250));
    }
    browser = await chromium.launch({ executablePath: CHROMIUM });
    page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    page.on('request', (request) => requested.push(request.url()));
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    s3?.destroy();
    running?.child.kill('SIGTERM');
    await up?.stop();
  });

  it('prints its URL on 127.0.0.1', () => {
    expect(running.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(running.stderr()).toContain(`serving the local stack at ${endpoint}`);
  });

  it('lists a file uploaded before the page opened, with its status', async () => {
    await page.goto(running.url);
    await expect.poll(() => statusOf('incoming/photos/early.png').textContent()).toBe('SUCCEEDED');
  });

  it('shows a file uploaded after the page opened, through to its final status, without a reload', async () => {
    await page.goto(running.url);
    await page.waitForSelector('tr[data-key]');
    // Strings, evaluated in the page: this file is typed for Node, not for the DOM.
    await page.evaluate('window.notReloaded = true');
    await put('incoming/photos/late.png', PHOTO);
    await page.waitForSelector(
      'tr[data-key="incoming/photos/late.png"][data-row-status="SUCCEEDED"]',
      { timeout: 30_000 },
    );
    expect(await page.evaluate('window.notReloaded')).toBe(true);
  });

  it('shows the upload path as counts from the queues', async () => {
    await page.goto(running.url);
    const counts = page.locator('[data-queue-counts]');
    await expect.poll(() => counts.getAttribute('data-waiting')).toBe('0');
    expect(await counts.getAttribute('data-dead-letters')).toBe('0');
    expect(await counts.textContent()).toMatch(/Counts only/);
  });

  it("shows a file's outputs: the original and its variants, loaded", async () => {
    await page.goto(`${running.url}file?key=${encodeURIComponent('incoming/photos/early.png')}`);
    await page.waitForSelector('.thumb img');
    await page.waitForFunction(
      "[...document.querySelectorAll('.thumb img')].every((img) => img.complete)",
    );
    const widths = (await page.evaluate(
      "[...document.querySelectorAll('.thumb img')].map((img) => img.naturalWidth)",
    )) as number[];
    const detail = (await (
      await fetch(`${running.url}api/file?key=incoming/photos/early.png`)
    ).json()) as { outputs: { role: string }[] };
    const variants = detail.outputs.filter((output) => output.role === 'variant').length;
    expect(variants).toBeGreaterThan(1);
    expect(widths.length).toBe(variants + 1);
    for (const width of widths) expect(width).toBeGreaterThan(0);
  });

  it('made every request to 127.0.0.1', () => {
    expect(requested.length).toBeGreaterThan(5);
    const hosts = new Set(requested.map((url) => new URL(url).host));
    expect([...hosts]).toEqual([new URL(running.url).host]);
  });

  it('ends a port in use with exit code 2 and one line', async () => {
    // Act: the port of the console that is already running.
    const run = await sluice([
      'console',
      '--endpoint',
      endpoint,
      '--port',
      new URL(running.url).port,
    ]);

    // Assess
    expectUsageError(
      run,
      /^sluice: the console's port \d+ on 127\.0\.0\.1 is already in use; pick another with --port/,
    );
  });

  it('stops on SIGTERM with exit code 0', async () => {
    // Act
    const exited = new Promise<number | null>((resolve) => running.child.once('exit', resolve));
    running.child.kill('SIGTERM');

    // Assess
    expect(await exited).toBe(0);
  });
});

describe('sluice console --stack, with no stack to reach', () => {
  let home: string;
  /** Answers DescribeStacks as CloudFormation does for a stack that does not exist. */
  let cloudFormation: Server;
  let cloudFormationUrl: string;
  let unusedUrl: string;

  /** AWS settings that reach no real account: an empty home, and no instance metadata. */
  const awsEnv = (settings: Record<string, string>) => ({
    ...envWithoutAws(),
    HOME: home,
    AWS_CONFIG_FILE: join(home, 'no-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_REGION: 'us-east-1',
    ...settings,
  });
  const dummyCredentials = { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' };

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'sluice-console-home-'));
    cloudFormation = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        response.writeHead(400, { 'content-type': 'text/xml' });
        response.end(
          '<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error>' +
            '<Type>Sender</Type><Code>ValidationError</Code>' +
            '<Message>Stack with id sluice-nope does not exist</Message></Error>' +
            '<RequestId>7d3a1e55-0000-4000-8000-000000000000</RequestId></ErrorResponse>',
        );
      });
    });
    await new Promise<void>((listening) => cloudFormation.listen(0, '127.0.0.1', listening));
    cloudFormationUrl = `http://127.0.0.1:${(cloudFormation.address() as AddressInfo).port}`;
    // A port that was free a moment ago: nothing answers there.
    const probe = createServer();
    await new Promise<void>((listening) => probe.listen(0, '127.0.0.1', listening));
    unusedUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
    await new Promise((closed) => probe.close(closed));
  });

  afterAll(async () => {
    await new Promise((closed) => cloudFormation?.close(closed));
    rmSync(home, { recursive: true, force: true });
  });

  it('ends with exit code 2 and one line when there are no AWS credentials', async () => {
    // Act
    const run = await sluice(
      ['console', '--stack', 'sluice-nope'],
      awsEnv({ AWS_ENDPOINT_URL_CLOUDFORMATION: unusedUrl }),
    );

    // Assess
    expectUsageError(
      run,
      /^sluice: CloudFormation \(stack sluice-nope\): CredentialsProviderError: Could not load credentials/,
    );
  });

  it('ends with exit code 2 and one line when CloudFormation does not answer', async () => {
    // Act
    const run = await sluice(
      ['console', '--stack', 'sluice-nope'],
      awsEnv({ ...dummyCredentials, AWS_ENDPOINT_URL_CLOUDFORMATION: unusedUrl }),
    );

    // Assess
    expectUsageError(run, /^sluice: nothing answers at CloudFormation \(stack sluice-nope\) /);
  });

  it('ends with exit code 2 and one line for a stack CloudFormation does not know', async () => {
    // Act
    const run = await sluice(
      ['console', '--stack', 'sluice-nope'],
      awsEnv({ ...dummyCredentials, AWS_ENDPOINT_URL_CLOUDFORMATION: cloudFormationUrl }),
    );

    // Assess
    expectUsageError(
      run,
      /^sluice: no CloudFormation stack sluice-nope: Stack with id sluice-nope does not exist$/,
    );
  });

  it('explains its options, what it polls and its exit codes in --help', async () => {
    // Act
    const run = await sluice(['console', '--help']);

    // Assess
    expect(run.code).toBe(0);
    for (const text of [
      '--port',
      '--stack',
      '--endpoint',
      '--data-dir',
      'every 2 s',
      'Exit codes',
    ]) {
      expect(run.stdout).toContain(text);
    }
  });
});
