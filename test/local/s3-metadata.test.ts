import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, HeadObjectCommand, ListBucketsCommand } from '@aws-sdk/client-s3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { localS3Client, startLocalS3 } from '#local/emulators/s3.ts';

const md5 = (data: string): string => createHash('md5').update(data).digest('hex');

/** Starts the local S3 on `directory`, runs `use` with a client of it, and closes both. */
async function withLocalS3<T>(
  directory: string,
  use: (client: ReturnType<typeof localS3Client>) => Promise<T>,
): Promise<T> {
  const s3 = await startLocalS3({ directory, bucket: 'kept', onObjectCreated: () => {} });
  const client = localS3Client(s3.endpoint);
  try {
    return await use(client);
  } finally {
    client.destroy();
    await s3.close();
  }
}

describe("the local S3's object metadata", () => {
  let directory: string;
  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'sluice-s3-metadata-'));
  });
  afterEach(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it("moves an earlier sluice's .md5 and metadata.json files into its store, and keeps them across restarts", async () => {
    // Prepare: two objects as s3rver stored them, one whose headers a crash left unwritten.
    const folder = join(directory, 'kept', 'incoming', 'old');
    await mkdir(folder, { recursive: true });
    const old = (name: string, resource: string) => join(folder, `${name}._S3rver_${resource}`);
    await writeFile(old('a.csv', 'object'), 'id\n1\n');
    await writeFile(old('a.csv', 'object.md5'), md5('id\n1\n'));
    await writeFile(
      old('a.csv', 'metadata.json'),
      JSON.stringify({ 'content-type': 'text/csv', 'x-amz-meta-source': 'old' }),
    );
    await writeFile(old('b.bin', 'object'), 'bytes');
    await writeFile(old('b.bin', 'object.md5'), md5('bytes'));
    const read = (client: ReturnType<typeof localS3Client>) =>
      Promise.all([
        client.send(new GetObjectCommand({ Bucket: 'kept', Key: 'incoming/old/a.csv' })),
        client.send(new HeadObjectCommand({ Bucket: 'kept', Key: 'incoming/old/b.bin' })),
      ]).then(([a, b]) => [a.ETag, a.ContentType, a.Metadata, b.ETag, b.ContentType]);

    // Act
    const first = await withLocalS3(directory, read);
    const again = await withLocalS3(directory, read);

    // Assess
    const expected = [
      `"${md5('id\n1\n')}"`,
      'text/csv',
      { source: 'old' },
      `"${md5('bytes')}"`,
      'binary/octet-stream',
    ];
    expect(first).toEqual(expected);
    expect(again).toEqual(expected);
    expect(
      ['a.csv', 'b.bin'].flatMap((name) =>
        ['object.md5', 'metadata.json'].filter((resource) => existsSync(old(name, resource))),
      ),
    ).toEqual([]);
  });

  it('lists no bucket for the folder the store keeps its entries in', async () => {
    // Act
    const buckets = await withLocalS3(directory, (client) =>
      client.send(new ListBucketsCommand({})),
    );

    // Assess
    expect(buckets.Buckets?.map((bucket) => bucket.Name)).toEqual(['kept']);
  });
});
