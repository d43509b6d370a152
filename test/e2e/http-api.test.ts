import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES } from '#commons/api/routes.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#local/emulators/endpoint.ts';
import type { EndpointInfo } from '#local/service/endpoint-file.ts';
import { type RunningUp, startSluiceUp } from './sluice-up.ts';

const ROOT = join(import.meta.dirname, '../..');
const ORDERS_CSV = join(ROOT, 'sample-data/orders/2026-01.csv');
const BADGE = join(ROOT, 'sample-data/photos/badge.png');
const run = promisify(execFile);

let up: RunningUp;
let api: string;
let token: string;
let s3: S3Client;

interface Presigned {
  readonly key: string;
  readonly url: string;
  readonly fields: Record<string, string>;
  readonly maxBytes: number;
}

function call(path: string, init: RequestInit & { token?: string | null } = {}) {
  const headers = new Headers(init.headers);
  const bearer = init.token === undefined ? token : init.token;
  if (bearer !== null) headers.set('authorization', `Bearer ${bearer}`);
  if (init.body) headers.set('content-type', 'application/json');
  return fetch(`${api}${path}`, { ...init, headers });
}

async function presign(body: Record<string, unknown>): Promise<Presigned> {
  const response = await call('/uploads', { method: 'POST', body: JSON.stringify(body) });
  expect(response.status).toBe(201);
  return (await response.json()) as Presigned;
}

/** A browser form's upload: every field, then the file last, as S3 requires. */
async function postForm(presigned: Pick<Presigned, 'url' | 'fields'>, bytes: Buffer, name: string) {
  const form = new FormData();
  for (const [field, value] of Object.entries(presigned.fields)) form.append(field, value);
  form.append('file', new Blob([bytes]), name);
  return fetch(presigned.url, { method: 'POST', body: form });
}

/** The file's status from the API, once it is final. */
async function settled(key: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 240; i++) {
    const response = await call(`/files/${key}`);
    if (response.status === 200) {
      const file = (await response.json()) as Record<string, unknown>;
      if (file.status !== 'PROCESSING') return file;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${key} did not settle`);
}

beforeAll(async () => {
  up = await startSluiceUp('--no-console');
  api = up.line('api');
  token = up.line('api token');
  s3 = new S3Client({
    endpoint: up.line('endpoint'),
    region: LOCAL_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const put = (key: string, body: string | Buffer) =>
    s3.send(new PutObjectCommand({ Bucket: 'sluice-local', Key: key, Body: body }));
  await put('schemas/orders.json', readFileSync(join(ROOT, 'sample-data/schemas/orders.json')));
  // A dataset whose images may be 1000 bytes at the most.
  await put(
    'schemas/tiny.variants.json',
    JSON.stringify({ variants: [{ name: 'small', size: 64, format: 'jpeg' }], maxBytes: 1000 }),
  );
}, 120_000);

afterAll(async () => {
  s3?.destroy();
  await up?.stop();
});

describe('sluice up serves the HTTP API', () => {
  it('prints its URL and token, and writes both to endpoint.json', () => {
    expect(api).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(token.length).toBeGreaterThanOrEqual(32);
    const info = JSON.parse(
      readFileSync(join(up.dataDir, 'endpoint.json'), 'utf8'),
    ) as EndpointInfo;
    expect(info.api).toBe(api);
    expect(info.apiToken).toBe(token);
  });

  it.each([
    ['no token', null],
    ['a wrong token', 'not-the-token'],
  ])('answers 401 to %s, on every route', async (_, bearer) => {
    for (const path of ['/uploads', '/files/incoming/orders/x.csv', '/openapi.json']) {
      const method = path === '/uploads' ? 'POST' : 'GET';
      const response = await call(path, { method, token: bearer });
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({ message: 'Unauthorized' });
    }
  });

  it.each([
    ['a parent folder', '../escape.csv'],
    ['an absolute path', '/etc/passwd.csv'],
    ['a folder', 'nested/file.csv'],
    ['a backslash path', '..\\escape.csv'],
    ['a control character', 'bad\u0007name.csv'],
    ['a newline', 'forged\nline.csv'],
    ['an over-long name', `${'a'.repeat(300)}.csv`],
    ['an empty name', ''],
    ['dot-dot', '..'],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: S3's own placeholder, literally
    ["S3's ${filename} placeholder", '${filename}'],
    ['an unsupported type', 'report.pdf'],
  ])('refuses a filename with %s, naming the field', async (_, filename) => {
    const response = await call('/uploads', {
      method: 'POST',
      body: JSON.stringify({ dataset: 'orders', filename, bytes: 10 }),
    });
    expect(response.status).toBe(400);
    const { error } = (await response.json()) as { error: { field: string; message: string } };
    expect(error.field).toBe('filename');
    expect(error.message).toMatch(/^filename/);
  });

  it('refuses an unknown dataset, a size over the limit and a bad body, naming the field', async () => {
    const refused = async (body: unknown, status: number, field: string) => {
      const response = await call('/uploads', { method: 'POST', body: JSON.stringify(body) });
      expect(response.status).toBe(status);
      expect(((await response.json()) as { error: { field: string } }).error.field).toBe(field);
    };
    await refused({ dataset: 'nope', filename: 'a.csv', bytes: 10 }, 404, 'dataset');
    await refused({ dataset: '../orders', filename: 'a.csv', bytes: 10 }, 400, 'dataset');
    await refused({ dataset: 'tiny', filename: 'a.png', bytes: 1001 }, 413, 'bytes');
    await refused({ dataset: 'orders', filename: 'a.csv', bytes: 0 }, 400, 'bytes');
    await refused({ dataset: 'orders', filename: 'a.csv' }, 400, 'bytes');
    await refused({ dataset: 'orders', filename: 'a.csv', bytes: 1, extra: 1 }, 400, 'body');
    const notJson = await call('/uploads', { method: 'POST', body: '{' });
    expect(notJson.status).toBe(400);
  });

  it('a presigned POST from fetch lands the file, which reaches SUCCEEDED and GET /files shows', async () => {
    const presigned = await presign({
      dataset: 'orders',
      filename: 'from-fetch.csv',
      bytes: readFileSync(ORDERS_CSV).length,
      contentType: 'text/csv',
    });
    expect(presigned.key).toBe('incoming/orders/from-fetch.csv');
    const posted = await postForm(presigned, readFileSync(ORDERS_CSV), 'from-fetch.csv');
    expect(posted.status).toBe(204);

    const file = await settled(presigned.key);
    expect(file).toMatchObject({
      key: 'incoming/orders/from-fetch.csv',
      dataset: 'orders',
      kind: 'csv',
      status: 'SUCCEEDED',
      error: null,
      duplicates: 0,
    });
    expect(file.outputs).toContain('validated/orders/from-fetch/report.json');
    expect(file.attempts).toHaveLength(1);
  });

  it('a presigned POST from curl -F lands the file, and the dataset lists it a page at a time', async () => {
    const presigned = await presign({ dataset: 'orders', filename: 'from curl.csv', bytes: 100 });
    const dir = up.dataDir;
    const path = join(dir, 'upload.csv');
    writeFileSync(path, readFileSync(ORDERS_CSV));
    const fields = Object.entries(presigned.fields).flatMap(([name, value]) => [
      '--form-string',
      `${name}=${value}`,
    ]);
    const { stdout } = await run('curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      ...fields,
      '-F',
      `file=@${path}`,
      presigned.url,
    ]);
    expect(stdout).toBe('204');
    expect((await settled('incoming/orders/from%20curl.csv')).status).toBe('SUCCEEDED');

    const first = await call('/datasets/orders/files?status=SUCCEEDED&limit=1');
    const page = (await first.json()) as { items: { key: string }[]; nextToken: string | null };
    expect(page.items).toHaveLength(1);
    expect(page.nextToken).not.toBeNull();
    const next = await call(
      `/datasets/orders/files?status=SUCCEEDED&limit=1&nextToken=${page.nextToken}`,
    );
    const second = (await next.json()) as { items: { key: string }[] };
    expect([page.items[0]?.key, second.items[0]?.key].sort()).toEqual([
      'incoming/orders/from curl.csv',
      'incoming/orders/from-fetch.csv',
    ]);
    const future = await call(`/datasets/orders/files?since=2999-01-01T00:00:00Z`);
    expect(((await future.json()) as { items: unknown[] }).items).toEqual([]);
    for (const [query, field] of [
      ['status=NOPE', 'status'],
      ['since=yesterday', 'since'],
      ['limit=5000', 'limit'],
      ['nextToken=garbage', 'nextToken'],
    ]) {
      const bad = await call(`/datasets/orders/files?${query}`);
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: { field: string } }).error.field).toBe(field);
    }
  });

  it('the S3 endpoint refuses an upload over the policy size, and nothing lands', async () => {
    const presigned = await presign({ dataset: 'tiny', filename: 'big.png', bytes: 500 });
    expect(presigned.maxBytes).toBe(1000);
    const posted = await postForm(presigned, readFileSync(BADGE), 'big.png');
    expect(posted.status).toBe(400);
    expect(await posted.text()).toContain('<Code>EntityTooLarge</Code>');
    expect((await call('/files/incoming/tiny/big.png')).status).toBe(404);
  });

  it('the S3 endpoint refuses an expired policy', async () => {
    const presigned = await presign({ dataset: 'orders', filename: 'late.csv', bytes: 10 });
    // Signed as the API's function signs, an hour ago.
    const signer = new S3Client({
      endpoint: new URL(presigned.url).origin,
      region: LOCAL_REGION,
      forcePathStyle: true,
      credentials: LOCAL_CREDENTIALS,
    });
    const expired = await createPresignedPost(signer, {
      Bucket: 'sluice-local',
      Key: 'incoming/orders/late.csv',
      Conditions: [['content-length-range', 1, 1000]],
      Expires: -3600,
    });
    signer.destroy();
    const posted = await postForm(expired, Buffer.from('id\n1\n'), 'late.csv');
    expect(posted.status).toBe(403);
    expect(await posted.text()).toMatch(/<Code>AccessDenied<\/Code>[\s\S]*expired/);
    expect((await call('/files/incoming/orders/late.csv')).status).toBe(404);
  });

  it('serves the OpenAPI document of exactly its routes', async () => {
    const response = await call('/openapi.json');
    expect(response.status).toBe(200);
    const document = (await response.json()) as {
      openapi: string;
      servers: { url: string }[];
      paths: Record<string, Record<string, { operationId: string }>>;
    };
    expect(document.openapi).toBe('3.1.0');
    expect(document.servers[0]?.url).toBe(api);
    const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => `${op.operationId} ${method} ${path}`),
    );
    expect(operations.sort()).toEqual(
      API_ROUTES.map(
        (route) =>
          `${route.operationId} ${route.method.toLowerCase()} ${route.path.replace('+', '')}`,
      ).sort(),
    );
  });

  it('answers 404 in API Gateway shape to a route it does not have', async () => {
    const response = await call('/nowhere');
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ message: 'Not Found' });
  });
});
