import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_IMAGE_CONFIG } from '#commons/image/index.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#local/emulators/endpoint.ts';
import { type LocalS3, localS3Client, startLocalS3 } from '#local/emulators/s3.ts';
import { lambdaContext } from '../fixtures/functions/lambda-context.ts';

const BUCKET = 'sluice-local';
const KEY = 'incoming/photos/badge.png';

const context = lambdaContext('ResizeImage', '1024');

describe('ResizeImage', () => {
  const requests: string[] = [];
  let directory: string;
  let s3: LocalS3;
  let client: S3Client;
  let size: number;

  /** The handler, imported after the env points its S3 client at the local S3. */
  async function resizeGroup(maxBytes: number) {
    vi.resetModules();
    const { handler } = await import('../../functions/resize-image.ts');
    return handler(
      {
        file: {
          bucket: BUCKET,
          key: KEY,
          versionTag: 'v1',
          size,
          dataset: 'photos',
          name: 'badge',
          kind: 'image',
          receivedAt: '2026-12-07T10:00:00.000Z',
        },
        executionId: 'arn:aws:states:us-east-1:000000000000:execution:sluice-ProcessFile:x',
        config: { ...DEFAULT_IMAGE_CONFIG, maxBytes },
        group: { name: 'web', variants: [{ name: 'w64', size: 64, format: 'png', fit: 'inside' }] },
      },
      context,
    );
  }

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'sluice-resize-'));
    s3 = await startLocalS3({ directory, bucket: BUCKET, onObjectCreated: () => undefined });
    s3.server.on('request', (request) => {
      if (decodeURIComponent(request.url ?? '').includes(KEY)) requests.push(request.method ?? '');
    });
    client = localS3Client(s3.endpoint);
    const image = await readFile(join(import.meta.dirname, '../../sample-data/photos/badge.png'));
    size = image.length;
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: image }));
    vi.stubEnv('AWS_ENDPOINT_URL_S3', s3.endpoint);
    vi.stubEnv('AWS_REGION', LOCAL_REGION);
    vi.stubEnv('AWS_ACCESS_KEY_ID', LOCAL_CREDENTIALS.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', LOCAL_CREDENTIALS.secretAccessKey);
    vi.stubEnv('AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED', 'true');
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    client.destroy();
    await s3.close();
    await rm(directory, { recursive: true, force: true });
  });

  it('reads the upload with one GET and stores its variants', async () => {
    // Prepare
    requests.length = 0;

    // Act
    const result = await resizeGroup(size);
    const stored = await client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'variants/photos/badge/' }),
    );

    // Assess
    expect(requests).toEqual(['GET']);
    expect(result.variants.map((variant) => variant.key)).toEqual([
      'variants/photos/badge/w64.png',
    ]);
    expect(stored.Contents?.map((object) => object.Key)).toEqual(['variants/photos/badge/w64.png']);
  });

  it('refuses an upload over maxBytes from its Content-Length, storing nothing', async () => {
    // Prepare
    requests.length = 0;
    await rm(join(directory, BUCKET, 'variants'), { recursive: true, force: true });

    // Act
    const attempt = resizeGroup(size - 1);

    // Assess
    await expect(attempt).rejects.toMatchObject({
      name: 'ImageTooLarge',
      message: `${KEY} is ${size} bytes; the limit is ${size - 1} bytes`,
    });
    expect(requests).toEqual(['GET']);
    const stored = await client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'variants/photos/badge/' }),
    );
    expect(stored.Contents ?? []).toEqual([]);
  });
});
