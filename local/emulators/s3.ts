import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { copyFile, mkdir, readdir, rename, rm } from 'node:fs/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { S3Client } from '@aws-sdk/client-s3';
import S3rver, { type S3rverEventRecord, type S3rverObject, type S3rverStore } from 's3rver';
import { CLIENT_DEFAULTS } from '#commons/clients/defaults.ts';
import { sendAwsError } from './aws-error.ts';
import { closeServer, LOCAL_ACCOUNT_ID, LOCAL_CREDENTIALS, LOCAL_REGION } from './endpoint.ts';
import {
  type HotPathStore,
  plainObjectRequest,
  servePlainObject,
  storedMetadata,
} from './s3-hot-path.ts';
import { ObjectMetadata } from './s3-metadata.ts';
import { postObjectBucket, servePostObject } from './s3-post-object.ts';

/**
 * s3rver seals ListObjectsV2 continuation tokens with single DES, which OpenSSL 3 (Node 17+)
 * keeps in its legacy provider: every listing of more than 1000 keys failed with InternalError
 * (ERR_OSSL_EVP_UNSUPPORTED). Triple DES with one key three times is the same cipher, and is in
 * the default provider. Only the 'des' algorithm is rerouted, and only s3rver asks for it.
 */
function rerouteSingleDes(): void {
  const crypto = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
  const { createCipheriv, createDecipheriv } = crypto;
  const tripled = (key: Buffer) => Buffer.concat([key, key, key]);
  Object.assign(crypto, {
    createCipheriv: (algorithm: string, key: Buffer, iv: Buffer, options?: never) =>
      algorithm === 'des'
        ? createCipheriv('des-ede3-cbc', tripled(key), iv, options)
        : createCipheriv(algorithm, key, iv, options),
    createDecipheriv: (algorithm: string, key: Buffer, iv: Buffer, options?: never) =>
      algorithm === 'des'
        ? createDecipheriv('des-ede3-cbc', tripled(key), iv, options)
        : createDecipheriv(algorithm, key, iv, options),
  });
}
rerouteSingleDes();

/** The API call that created the object, as EventBridge's `detail.reason` names it. */
export type S3ObjectCreatedReason =
  | 'PutObject'
  | 'PostObject'
  | 'CopyObject'
  | 'CompleteMultipartUpload';

/** EventBridge's "Object Created" event from S3, exactly as AWS delivers it. */
export interface S3ObjectCreatedEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': 'Object Created';
  readonly source: 'aws.s3';
  readonly account: string;
  /** ISO 8601 to the second, as EventBridge sends it: `2026-11-22T17:10:00Z`. */
  readonly time: string;
  readonly region: string;
  /** `[arn:aws:s3:::<bucket>]` */
  readonly resources: readonly string[];
  readonly detail: {
    readonly version: '0';
    readonly bucket: { readonly name: string };
    readonly object: {
      /** URL-encoded as S3 encodes keys in notifications: see {@link encodeS3EventKey}. */
      readonly key: string;
      readonly size: number;
      /** Without quotes. */
      readonly etag: string;
      readonly sequencer: string;
      readonly 'version-id'?: string;
    };
    readonly 'request-id': string;
    readonly requester: string;
    readonly 'source-ip-address': string;
    readonly reason: S3ObjectCreatedReason;
  };
}

/**
 * An S3 client for s3rver: path-style addressing, and checksums only when required, or a
 * streamed PutObject body is stored still wrapped in aws-chunked framing.
 */
export function localS3Client(endpoint: string): S3Client {
  return new S3Client({
    ...CLIENT_DEFAULTS,
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // Uploads are what users care most about: ride out a busy (or fault-injected) endpoint.
    maxAttempts: 5,
  });
}

export interface LocalS3 {
  readonly endpoint: string;
  /** s3rver's HTTP server, for the fault layer to stand in front of. */
  readonly server: Server;
  readonly bucket: string;
  close(): Promise<void>;
}

/**
 * Writes an object beside the old one and renames it over, then its metadata: a reader sees the
 * old object or the new one, never part of one. (A crash between the rename and the metadata
 * leaves an entry that no longer matches the file, which ObjectMetadata makes again from the
 * bytes; the client got no answer, so it retries.)
 */
async function replaceObject(
  store: S3rverStore,
  path: string,
  object: S3rverObject,
): Promise<{ size: number; md5: string }> {
  if (Buffer.isBuffer(object.content))
    return replaceSmallObject(store, path, object, object.content);
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${randomUUID()}.tmp`;
  const md5 = createHash('md5');
  let size = 0;
  const count = new Transform({
    transform(chunk: Buffer, _encoding, next) {
      md5.update(chunk);
      size += chunk.length;
      next(null, chunk);
    },
  });
  try {
    await pipeline(object.content, count, createWriteStream(temporary));
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  const digest = md5.digest('hex');
  await store.putMetadata(object.bucket, object.key, object.metadata, digest);
  return { size, md5: digest };
}

/**
 * An object already in memory (the hot path's small PUTs, an empty body) is written with
 * synchronous calls. Each asynchronous one is handed to libuv's pool and wakes a thread, and on
 * two busy cores those wake-ups cost the main thread more than the writes themselves.
 */
async function replaceSmallObject(
  store: S3rverStore,
  path: string,
  object: S3rverObject,
  content: Buffer,
): Promise<{ size: number; md5: string }> {
  const temporary = `${path}.${randomUUID()}.tmp`;
  try {
    try {
      writeFileSync(temporary, content);
    } catch (error) {
      // Most keys go into a folder that exists already: a mkdir each cost as much as a rename.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(temporary, content);
    }
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
  const digest = createHash('md5').update(content).digest('hex');
  await store.putMetadata(object.bucket, object.key, object.metadata, digest);
  return { size: content.length, md5: digest };
}

/** s3rver's getMetadata answer, from the object's entry. */
async function readMetadata(
  objects: ObjectMetadata,
  store: S3rverStore,
  bucket: string,
  key: string,
): Promise<Record<string, string>> {
  const entry = await objects.get(bucket, key, store.getResourcePath(bucket, key, 'object'));
  return {
    ...entry.headers,
    etag: JSON.stringify(entry.md5),
    'last-modified': new Date(entry.mtimeMs).toUTCString(),
    'content-length': String(entry.size),
  };
}

/** Copies a file beside `to`, then renames it over, as replaceObject writes. */
async function copyReplacing(from: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  const temporary = `${to}.${randomUUID()}.tmp`;
  try {
    await copyFile(from, temporary);
    await rename(temporary, to);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** Objects whose metadata the local S3 keeps in memory: about 1 KB each. */
const METADATA_KEPT = 10_000;

/** Characters S3 leaves as they are in notification keys (Java form encoding, plus `/`). */
const UNENCODED = /^[A-Za-z0-9.\-*_/]$/;

/**
 * Encodes an object key the way S3 does in event notifications: form encoding, so a space
 * becomes `+`, `+` becomes `%2B`, other characters become UTF-8 percent-escapes, and `/` stays.
 * `decodeURIComponent(encoded.replace(/\+/g, ' '))` gives the key back.
 */
export function encodeS3EventKey(key: string): string {
  let encoded = '';
  for (const char of key) {
    if (char === ' ') {
      encoded += '+';
    } else if (UNENCODED.test(char)) {
      encoded += char;
    } else {
      for (const byte of Buffer.from(char, 'utf8')) {
        encoded += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
      }
    }
  }
  return encoded;
}

/**
 * s3rver's event names → EventBridge reasons. s3rver reports a multipart completion as Post (its
 * own form upload, which also reports Post, never runs: see s3-post-object.ts).
 */
const REASONS: Readonly<Record<string, S3ObjectCreatedReason>> = {
  'ObjectCreated:Put': 'PutObject',
  'ObjectCreated:Copy': 'CopyObject',
  'ObjectCreated:Post': 'CompleteMultipartUpload',
};

const unquote = (etag: string): string => etag.replace(/"/g, '');

/** EventBridge times have no milliseconds. */
const eventTime = (iso: string): string => iso.replace(/\.\d{3}Z$/, 'Z');

/** A 16- or 18-hex-digit sequencer that grows with time, like S3's. */
let lastSequencer = 0n;
function nextSequencer(): string {
  const now = BigInt(Date.now()) * 1000n;
  lastSequencer = now > lastSequencer ? now : lastSequencer + 1n;
  return lastSequencer.toString(16).toUpperCase().padStart(18, '0');
}

/**
 * s3rver in-process on an ephemeral loopback port. Objects live under `directory`, so they
 * survive a restart as long as the directory is kept. Creates `bucket` if missing, and turns
 * every object creation (put, copy, multipart completion) into EventBridge's "Object Created"
 * event.
 */
export async function startLocalS3(options: {
  readonly directory: string;
  readonly bucket: string;
  readonly onObjectCreated: (event: S3ObjectCreatedEvent) => void;
}): Promise<LocalS3> {
  const { directory, bucket, onObjectCreated } = options;
  await mkdir(directory, { recursive: true });
  const files = await readdir(directory, { recursive: true, withFileTypes: true });
  // Objects a crash cut off mid-write: never listed, only taking disk.
  for (const entry of files) {
    if (entry.isFile() && /\._S3rver_object\.[0-9a-f-]{36}\.tmp$/.test(entry.name)) {
      await rm(join(entry.parentPath, entry.name), { force: true });
    }
  }
  const objects = await ObjectMetadata.open(directory, files);
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    vhostBuckets: false,
    configureBuckets: [{ name: bucket }],
  });

  // Silent, s3rver still formats a coloured log line for every request and hands it to a
  // winston transport that drops it: about 1 % of the main thread on 1,000 small files.
  const requestLogger = server.middleware.findIndex((middleware) => middleware.name === 'logger');
  if (requestLogger >= 0) server.middleware.splice(requestLogger, 1);

  // S3 takes a URL-encoded copy source (`bucket/incoming%2Fa.csv`), but s3rver only runs
  // decodeURI over it, which leaves `%2F` and friends encoded. Re-encode it so that decodeURI
  // gives the key back.
  server.middleware.unshift(async (ctx, next) => {
    const source = ctx.headers['x-amz-copy-source'];
    if (typeof source === 'string') {
      const [path = '', ...query] = source.split('?');
      try {
        ctx.headers['x-amz-copy-source'] = [encodeURI(decodeURIComponent(path)), ...query].join(
          '?',
        );
      } catch {
        // Not valid percent-encoding: let s3rver answer as it does.
      }
    }
    await next();
  });

  // s3rver writes an object in place, so a GET during a PUT of the same key reads it truncated,
  // and a crash mid-write leaves it so; its PUT can even answer before the bytes are written.
  // S3 replaces an object whole: write beside it, then rename over it.
  const store = server.store;
  // Two PUTs of one key at once would otherwise interleave one's bytes with the other's ETag.
  const writing = new Map<string, Promise<unknown>>();
  store.putObject = (object) => {
    const path = store.getResourcePath(object.bucket, object.key, 'object');
    const previous = writing.get(path) ?? Promise.resolve();
    const put = previous.catch(() => {}).then(() => replaceObject(store, path, object));
    writing.set(path, put);
    void put
      .finally(() => {
        if (writing.get(path) === put) writing.delete(path);
      })
      .catch(() => {});
    return put;
  };

  // s3rver asks the disk for the bucket and its CORS and website configs on every request, and
  // this process is the only writer of them: keep the answers until it changes one.
  const buckets = new Map<string, Promise<unknown>>();
  const configs = new Map<string, Promise<unknown>>();
  const getBucket = store.getBucket.bind(store);
  store.getBucket = (name) => {
    if (ObjectMetadata.isOwnFolder(name)) return Promise.resolve(null);
    let found = buckets.get(name);
    if (!found) {
      found = getBucket(name);
      buckets.set(name, found);
      found.catch(() => buckets.delete(name));
    }
    return found;
  };
  for (const change of ['putBucket', 'deleteBucket'] as const) {
    const original = store[change].bind(store);
    store[change] = (name) => {
      buckets.delete(name);
      configs.clear();
      return original(name).finally(() => buckets.delete(name));
    };
  }
  const getSubresource = store.getSubresource.bind(store);
  store.getSubresource = (name, key, type) => {
    if (key !== undefined) return getSubresource(name, key, type);
    const id = `${name}\0${type}`;
    let found = configs.get(id);
    if (!found) {
      found = getSubresource(name, key, type);
      configs.set(id, found);
      found.catch(() => configs.delete(id));
    }
    return found;
  };
  for (const change of ['putSubresource', 'deleteSubresource'] as const) {
    const original = store[change].bind(store);
    store[change] = (name, key, resource) => {
      configs.clear();
      return original(name, key, resource).finally(() => configs.clear());
    };
  }

  // s3rver keeps an object's ETag and headers in two more files per object; here they live in
  // ObjectMetadata, and every store call that reads or writes them goes there. Its answers are
  // kept in memory too, dropped whenever the object changes, and copied out so that no caller
  // can alter the kept one.
  const metadata = new Map<string, Promise<Record<string, string>>>();
  const forget = (bucket: string, key: string) => metadata.delete(`${bucket}/${key}`);
  store.getMetadata = (bucket, key) => {
    const id = `${bucket}/${key}`;
    let found = metadata.get(id);
    if (!found) {
      found = readMetadata(objects, store, bucket, key);
      metadata.set(id, found);
      found.catch(() => {
        if (metadata.get(id) === found) metadata.delete(id);
      });
      if (metadata.size > METADATA_KEPT) metadata.delete(metadata.keys().next().value ?? '');
    }
    return found.then((answer) => ({ ...answer }));
  };
  store.putMetadata = async (bucket, key, headers, md5) => {
    forget(bucket, key);
    const path = store.getResourcePath(bucket, key, 'object');
    await objects.put(bucket, key, ObjectMetadata.describe(path, md5, storedMetadata(headers)));
  };
  const deleteObject = store.deleteObject.bind(store);
  store.deleteObject = async (bucket, key) => {
    forget(bucket, key);
    try {
      await deleteObject(bucket, key);
      await objects.delete(bucket, key);
    } finally {
      forget(bucket, key);
    }
  };

  // s3rver's copy events carry no ETag; the copy's metadata is returned just before the event
  // fires, so keep it by destination.
  const copiedEtags = new Map<string, string>();
  store.copyObject = async (srcBucket, srcKey, destBucket, destKey, replacementMetadata) => {
    forget(destBucket, destKey);
    try {
      const from = store.getResourcePath(srcBucket, srcKey, 'object');
      const to = store.getResourcePath(destBucket, destKey, 'object');
      const source = await objects.get(srcBucket, srcKey, from);
      if (from !== to) await copyReplacing(from, to);
      const headers = replacementMetadata ? storedMetadata(replacementMetadata) : source.headers;
      await objects.put(
        destBucket,
        destKey,
        ObjectMetadata.describe(to, source.md5, { ...headers }),
      );
    } finally {
      forget(destBucket, destKey);
    }
    const copied = await store.getMetadata(destBucket, destKey);
    if (copied.etag !== undefined) copiedEtags.set(`${destBucket}/${destKey}`, copied.etag);
    return copied;
  };

  const announce = (created: {
    readonly bucket: string;
    readonly key: string;
    readonly etag: string;
    readonly size: number;
    readonly time: string;
    readonly requestId: string;
    readonly sourceIp: string;
    readonly reason: S3ObjectCreatedReason;
  }): void => {
    const { bucket: name } = created;
    const event: S3ObjectCreatedEvent = {
      version: '0',
      id: randomUUID(),
      'detail-type': 'Object Created',
      source: 'aws.s3',
      account: LOCAL_ACCOUNT_ID,
      time: eventTime(created.time),
      region: LOCAL_REGION,
      resources: [`arn:aws:s3:::${name}`],
      detail: {
        version: '0',
        bucket: { name },
        object: {
          key: encodeS3EventKey(created.key),
          size: created.size,
          etag: unquote(created.etag),
          sequencer: nextSequencer(),
        },
        'request-id': created.requestId,
        requester: LOCAL_ACCOUNT_ID,
        'source-ip-address': created.sourceIp.replace(/^::ffff:/, ''),
        reason: created.reason,
      },
    };
    // Thrown here, inside s3rver's request, a listener's error (the queue refused the event)
    // answers the upload with a 500, so the client retries instead of the event being lost.
    onObjectCreated(event);
  };

  const deliver = (record: S3rverEventRecord, etag: string, size: number): void => {
    const reason = REASONS[record.eventName];
    if (reason === undefined) return;
    announce({
      bucket: record.s3.bucket.name,
      key: record.s3.object.key,
      etag,
      size,
      time: record.eventTime,
      requestId: record.responseElements['x-amz-request-id'],
      sourceIp: record.requestParameters.sourceIPAddress,
      reason,
    });
  };

  server.on('event', (s3rverEvent) => {
    for (const record of s3rverEvent.Records) {
      if (!record.eventName.startsWith('ObjectCreated:')) continue;
      const { key, eTag, size } = record.s3.object;
      const id = `${record.s3.bucket.name}/${key}`;
      const copiedEtag = copiedEtags.get(id);
      copiedEtags.delete(id);
      const etag = eTag ?? copiedEtag;
      if (etag !== undefined && size !== undefined) {
        deliver(record, etag, size);
        continue;
      }
      // Not seen through the store wrapper: read the stored metadata instead.
      store
        .getMetadata(record.s3.bucket.name, key)
        .then((metadata) =>
          deliver(
            record,
            etag ?? metadata.etag ?? '',
            size ?? Number(metadata['content-length'] ?? 0),
          ),
        )
        .catch((error: unknown) =>
          console.error(`local S3: the event of ${key} was not delivered`, error),
        );
    }
  });
  server.on('error', () => {
    // s3rver answers the client with the error already; keep it from crashing the process.
  });

  const address = await server.run();
  const endpoint = `http://127.0.0.1:${address.port}`;
  let closing: Promise<void> | undefined;
  const httpServer = server.httpServer;
  if (!httpServer) throw new Error('local S3: s3rver started without an HTTP server');

  // s3rver stores a form upload (POST Object) without looking at its policy: no signature,
  // expiry, conditions or size range. Forms go to s3-post-object.ts instead, which checks them
  // and writes through the same store, so a refused form leaves nothing behind. It sits on the
  // server itself, so the fault layer and the edge, both in front of it, see it as any request.
  const s3rverListeners = httpServer.listeners('request') as ((
    request: IncomingMessage,
    response: ServerResponse,
  ) => void)[];
  httpServer.removeAllListeners('request');
  const s3rverServes = (request: IncomingMessage, response: ServerResponse) => {
    for (const listener of s3rverListeners) listener.call(httpServer, request, response);
  };
  const hotPath: HotPathStore = {
    store,
    onPut: (put) => announce({ ...put, time: new Date().toISOString(), reason: 'PutObject' }),
  };
  httpServer.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const plain = plainObjectRequest(request);
    if (plain !== undefined) {
      servePlainObject(request, response, plain, hotPath).then(
        (served) => {
          if (!served) s3rverServes(request, response);
        },
        () =>
          sendAwsError(
            response,
            500,
            'xml',
            'InternalError',
            'We encountered an internal error. Please try again.',
            { s3: true },
          ),
      );
      return;
    }
    const formBucket = postObjectBucket(request);
    if (formBucket === undefined) {
      s3rverServes(request, response);
      return;
    }
    void servePostObject(request, response, formBucket, {
      bucketExists: async (name) => Boolean(await store.getBucket(name)),
      putObject: (object) => store.putObject(object),
      onStored: (posted) =>
        announce({
          bucket: posted.bucket,
          key: posted.key,
          etag: posted.md5,
          size: posted.size,
          time: new Date().toISOString(),
          requestId: posted.requestId,
          sourceIp: posted.sourceIp,
          reason: 'PostObject',
        }),
    });
  });
  return {
    endpoint,
    server: httpServer,
    bucket,
    close() {
      closing ??= closeServer(httpServer).then(() => objects.close());
      return closing;
    },
  };
}
