import { PassThrough, type Readable } from 'node:stream';
import { GetObjectCommand, NoSuchKey, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

/** The object's body as a Node stream, never buffered whole. */
export async function readObjectStream(
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<Readable> {
  const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return response.Body as Readable;
}

/** A small JSON config object, or undefined when there is none. */
export async function readJsonIfExists(
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<unknown | undefined> {
  try {
    const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return JSON.parse((await response.Body?.transformToString('utf-8')) ?? 'null');
  } catch (error) {
    if (error instanceof NoSuchKey || (error as Error).name === 'NoSuchKey') return undefined;
    throw error;
  }
}

/** A writable that streams into S3 as a multipart upload; await `done` after ending it. */
export interface ObjectSink {
  readonly stream: PassThrough;
  readonly done: Promise<unknown>;
  abort(): Promise<void>;
}

export function writeObjectStream(
  s3: S3Client,
  bucket: string,
  key: string,
  contentType: string,
): ObjectSink {
  const stream = new PassThrough();
  const upload = new Upload({
    client: s3,
    params: { Bucket: bucket, Key: key, Body: stream, ContentType: contentType },
  });
  const done = upload.done();
  // Observed through `done`; an unobserved rejection here would crash the process first.
  done.catch(() => {});
  return { stream, done, abort: () => upload.abort() };
}
