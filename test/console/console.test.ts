import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningUp, startSluiceUp } from '../e2e/sluice-up.ts';

const ROOT = join(import.meta.dirname, '../..');
/** Debian's chromium, which .ci/run installs when it is missing; playwright's download is not. */
const CHROMIUM = process.env.SLUICE_CHROMIUM ?? '/usr/bin/chromium';
/** Screenshots of the list, a file's page and the triage view, for a person to look at. */
const ARTIFACTS = join(ROOT, 'test-artifacts', 'console');

const BADGE = readFileSync(join(ROOT, 'sample-data/photos/badge.png'));
const TRUNCATED = readFileSync(join(ROOT, 'sample-data/photos/dunes-truncated.jpg'));
const PHOTO = readFileSync(join(ROOT, 'sample-data/photos/dunes-small.png'));

const schema = (minimum: number) =>
  JSON.stringify({
    fields: [
      { name: 'id', type: 'integer', constraints: { required: true, unique: true } },
      { name: 'amount', type: 'number', constraints: { required: true, minimum } },
    ],
    primaryKey: ['id'],
  });
const GOOD_CSV = 'id,amount\n1,10.5\n2,3\n';
const BAD_CSV = 'id,amount\n1,10.5\n2,-4\n3,7\n';

let up: RunningUp;
let consoleUrl: string;
let s3: S3Client;
let browser: Browser;
let page: Page;
const requested: string[] = [];

async function put(key: string, body: string | Buffer): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: 'sluice-local', Key: key, Body: body }));
}

interface Row {
  readonly key: string;
  readonly status: string;
  readonly attempt: number;
}

async function rows(query = ''): Promise<{ rows: Row[] } & Record<string, unknown>> {
  const response = await fetch(`${consoleUrl}api/files${query}`);
  return (await response.json()) as { rows: Row[] } & Record<string, unknown>;
}

/** Until every key has a final status (a test helper may poll; the page does not). */
async function settled(keys: readonly string[]): Promise<void> {
  for (let i = 0; i < 240; i++) {
    const found = (await rows('?limit=500')).rows;
    if (keys.every((key) => found.some((r) => r.key === key && r.status !== 'PROCESSING'))) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`not settled: ${keys.join(', ')}`);
}

const statusOf = (key: string) => page.locator(`tr[data-key="${key}"] .status`).first();

beforeAll(async () => {
  up = await startSluiceUp();
  consoleUrl = up.line('console');
  s3 = new S3Client({
    endpoint: up.line('endpoint'),
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  await put('schemas/ledgers.json', schema(0));
  await put('incoming/photos/badge.png', BADGE);
  await put('incoming/photos/broken.jpg', TRUNCATED);
  await put('incoming/ledgers/good.csv', GOOD_CSV);
  await put('incoming/ledgers/bad.csv', BAD_CSV);
  await settled([
    'incoming/photos/badge.png',
    'incoming/photos/broken.jpg',
    'incoming/ledgers/good.csv',
    'incoming/ledgers/bad.csv',
  ]);

  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM });
  page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
  page.on('request', (request) => requested.push(request.url()));
}, 180_000);

afterAll(async () => {
  await browser?.close();
  s3?.destroy();
  await up?.stop();
});

describe('sluice up serves the console', () => {
  it('prints its URL and writes it to endpoint.json as console', () => {
    expect(consoleUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const info = JSON.parse(readFileSync(join(up.dataDir, 'endpoint.json'), 'utf8'));
    expect(info.console).toBe(consoleUrl);
    expect(existsSync(CHROMIUM)).toBe(true);
  });

  it('filters, counts and summarises per dataset in its JSON', async () => {
    const quarantined = await rows('?status=QUARANTINED');
    expect(quarantined.rows.map((r) => r.key).sort()).toEqual([
      'incoming/ledgers/bad.csv',
      'incoming/photos/broken.jpg',
    ]);
    expect(quarantined.counts).toMatchObject({ SUCCEEDED: 2, QUARANTINED: 2 });
    const rejected = await rows('?dataset=ledgers&error=CsvRejected');
    expect(rejected.rows.map((r) => r.key)).toEqual(['incoming/ledgers/bad.csv']);
    const ledgers = await rows('?dataset=ledgers');
    expect(ledgers.total).toBe(2);
    expect(ledgers.datasets).toContainEqual({
      dataset: 'ledgers',
      files: 2,
      succeeded: 1,
      successRate: 0.5,
      rows: 5,
      invalidRows: 1,
    });
    expect((await rows('?prefix=incoming/photos/b')).total).toBe(2);
    const future = new Date(Date.now() + 3600e3).toISOString();
    expect((await rows(`?since=${future}`)).total).toBe(0);
    const bad = await fetch(`${consoleUrl}api/files?since=yesterday`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/since/);
  });
});

describe('a file that closed while no page listened', () => {
  it('is pushed to the first page that listens', async () => {
    // Prepare: nothing listens yet; the file's execution closes.
    const sfn = new SFNClient({
      endpoint: up.line('endpoint'),
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    const info = JSON.parse(readFileSync(join(up.dataDir, 'endpoint.json'), 'utf8'));
    const succeeded = async () =>
      (
        await sfn.send(
          new ListExecutionsCommand({
            stateMachineArn: info.stateMachines.ProcessFile,
            statusFilter: 'SUCCEEDED',
          }),
        )
      ).executions?.length ?? 0;
    const before = await succeeded();
    await put('incoming/ledgers/unwatched.csv', GOOD_CSV);
    await expect.poll(succeeded, { timeout: 20_000, interval: 100 }).toBe(before + 1);
    sfn.destroy();

    // Act: a page starts listening.
    const events = await fetch(`${consoleUrl}api/events`);
    const reader = (events.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!text.includes('unwatched.csv')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    await reader.cancel();

    // Assess
    const pushed = text.split('\n').find((line) => line.includes('unwatched.csv')) ?? '';
    const { rows } = JSON.parse(pushed.replace(/^data: /, '')) as { rows: Row[] };
    expect(rows).toContainEqual(
      expect.objectContaining({ key: 'incoming/ledgers/unwatched.csv', status: 'SUCCEEDED' }),
    );
  });
});

describe('the console in Chromium', () => {
  it('lists each file with its status, and keeps the filters in the URL', async () => {
    await page.goto(consoleUrl);
    await expect.poll(() => statusOf('incoming/photos/badge.png').textContent()).toBe('SUCCEEDED');
    expect(await statusOf('incoming/ledgers/good.csv').textContent()).toBe('SUCCEEDED');
    expect(await statusOf('incoming/ledgers/bad.csv').textContent()).toBe('QUARANTINED');
    expect(await statusOf('incoming/photos/broken.jpg').textContent()).toBe('QUARANTINED');
    await page.screenshot({ path: join(ARTIFACTS, 'list.png'), fullPage: true });

    await page.click('[data-filter-status="QUARANTINED"]');
    await expect.poll(() => page.locator('tr[data-key]').count()).toBe(2);
    expect(new URL(page.url()).searchParams.get('status')).toBe('QUARANTINED');
    await page.reload();
    await expect.poll(() => page.locator('tr[data-key]').count()).toBe(2);

    await page.fill('input[name="since"]', '2999-01-01T00:00');
    await expect.poll(() => page.locator('tr[data-key]').count()).toBe(0);
    expect(new URL(page.url()).searchParams.get('since')).toMatch(/^2999-01-01T/);
    await page.click('.range button:text-is("all")');
    await expect.poll(() => page.locator('tr[data-key]').count()).toBe(2);
  });

  it('shows a file uploaded after the page opened, through to its final status, without a reload', async () => {
    await page.goto(consoleUrl);
    await page.waitForSelector('tr[data-key]');
    // Strings, evaluated in the page: this file is typed for Node, not for the DOM.
    await page.evaluate('window.notReloaded = true');
    await put('incoming/photos/late.png', PHOTO);
    await page.waitForSelector('tr[data-key="incoming/photos/late.png"]', { timeout: 20_000 });
    await page.waitForSelector(
      'tr[data-key="incoming/photos/late.png"][data-row-status="SUCCEEDED"]',
      {
        timeout: 30_000,
      },
    );
    expect(await page.evaluate('window.notReloaded')).toBe(true);
  });

  it("lists a rejected CSV's bad rows with their error columns", async () => {
    await page.goto(`${consoleUrl}file?key=${encodeURIComponent('incoming/ledgers/bad.csv')}`);
    await page.waitForSelector('tr[data-rejected-row]');
    const rejected = page.locator('tr[data-rejected-row]');
    expect(await rejected.count()).toBe(1);
    expect(await rejected.first().getAttribute('data-rejected-row')).toBe('3');
    expect(await rejected.first().textContent()).toMatch(/amount.*minimum.*-4/);
    expect(await page.locator('[data-error="CsvRejected"]').count()).toBe(1);
    expect(await page.locator('.report-errors tbody tr').count()).toBe(1);
    await page.screenshot({ path: join(ARTIFACTS, 'file-csv.png'), fullPage: true });
  });

  it("shows an image's variants as thumbnails that really loaded, and its states as a graph", async () => {
    await page.goto(`${consoleUrl}file?key=${encodeURIComponent('incoming/photos/badge.png')}`);
    await page.waitForSelector('.thumb img');
    await page.waitForFunction(
      "[...document.querySelectorAll('.thumb img')].every((img) => img.complete)",
    );
    const widths = (await page.evaluate(
      "[...document.querySelectorAll('.thumb img')].map((img) => img.naturalWidth)",
    )) as number[];
    const detail = (await (
      await fetch(`${consoleUrl}api/file?key=incoming/photos/badge.png`)
    ).json()) as { outputs: { role: string }[] };
    const variants = detail.outputs.filter((output) => output.role === 'variant').length;
    expect(variants).toBeGreaterThan(1);
    // The original next to each variant.
    expect(widths.length).toBe(variants + 1);
    for (const width of widths) expect(width).toBeGreaterThan(0);
    expect(await page.getAttribute('[data-state="ResizeGroup"]', 'data-state-status')).toBe(
      'SUCCEEDED',
    );
    expect(await page.getAttribute('[data-state="CheckCsv"]', 'data-state-status')).toBe('NOT_RUN');
    await page.screenshot({ path: join(ARTIFACTS, 'file-image.png'), fullPage: true });
  });

  it('groups the failures, and a replay after the schema is fixed turns the CSV SUCCEEDED', async () => {
    await page.goto(`${consoleUrl}triage`);
    await page.waitForSelector('[data-group="CsvRejected"]');
    expect(await page.locator('[data-group="CorruptImage"] tr[data-key]').count()).toBe(1);
    await page.screenshot({ path: join(ARTIFACTS, 'triage.png'), fullPage: true });

    await put('schemas/ledgers.json', schema(-100));
    await page.goto(`${consoleUrl}file?key=${encodeURIComponent('incoming/ledgers/bad.csv')}`);
    await page.click('[data-action="Replay"]');
    await page.waitForSelector('[role="dialog"]');
    expect(await page.locator('[role="dialog"]').textContent()).toMatch(/replay as attempt 2/);
    // The dry run changed nothing.
    expect((await rows('?prefix=incoming/ledgers/bad.csv')).rows[0]?.attempt).toBe(1);
    await page.screenshot({ path: join(ARTIFACTS, 'replay-plan.png'), fullPage: true });
    await page.click('[role="dialog"] button.confirm');
    await page.waitForSelector('main > .toolbar [data-status="SUCCEEDED"]', { timeout: 30_000 });
    expect(await page.locator('tr[data-attempt]').count()).toBe(2);

    await page.goto(`${consoleUrl}triage`);
    await page.waitForSelector('[data-group="CorruptImage"]');
    expect(await page.locator('[data-group="CsvRejected"]').count()).toBe(0);
  });

  it('made every request to 127.0.0.1', () => {
    expect(requested.length).toBeGreaterThan(10);
    const hosts = new Set(requested.map((url) => new URL(url).host));
    expect([...hosts]).toEqual([new URL(consoleUrl).host]);
  });
});
