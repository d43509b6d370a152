import { randomBytes } from 'node:crypto';
import { createReadStream, type ReadStream, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import type { S3rverStore } from 's3rver';
import { escapeXml } from './aws-error.ts';

/**
 * The two calls every file makes several times, PutObject and GetObject (and HeadObject), served
 * straight over s3rver's store. Through s3rver, each went through Koa, a router and five
 * middlewares, which cost the main thread, where every emulator runs, about 2 ms a call. Only
 * plain SDK requests come this way; s3rver still answers everything else, and every error but
 * NoSuchKey, which is answered in its words.
 */

export interface ObjectRequest {
  readonly method: 'GET' | 'HEAD' | 'PUT';
  readonly bucket: string;
  readonly key: string;
}

/** Headers that make a request more than plain: s3rver answers these itself. */
const SPECIAL_HEADERS = [
  'range',
  'if-match',
  'if-none-match',
  'if-modified-since',
  'if-unmodified-since',
  'origin',
  'x-amz-copy-source',
  'x-amz-storage-class',
  'x-amz-website-redirect-location',
];

/** What s3rver keeps of an object's headers, besides `x-amz-meta-*` (S3Object.ALLOWED_METADATA). */
const STORED_HEADERS = new Set([
  'cache-control',
  'content-disposition',
  'content-encoding',
  'content-language',
  'content-type',
  'expires',
  'x-amz-storage-class',
  'x-amz-website-redirect-location',
]);

/** The headers s3rver stores with an object, in its `metadata.json`. */
export function storedMetadata(headers: Readonly<Record<string, unknown>>): Record<string, string> {
  const stored: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== 'string') continue;
    if (STORED_HEADERS.has(name) || name.startsWith('x-amz-meta-')) stored[name] = value;
  }
  return stored;
}

/** What S3 and s3rver call an object stored without a type. */
const DEFAULT_TYPE = 'binary/octet-stream';

/** Bodies up to this size are read whole, and written and read back synchronously. */
const SMALL_OBJECT = 256 * 1024;

/** SigV4 by the local key, the only signature s3rver accepts unchecked (see edge-router.ts). */
const LOCAL_SIGV4 =
  /^AWS4-HMAC-SHA256 Credential=S3RVER\/[^,]+, ?SignedHeaders=[^,]+, ?Signature=[0-9a-f]+$/;
const PAYLOAD_HASH = /^(UNSIGNED-PAYLOAD|[0-9a-f]{64})$/i;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
/** s3rver refuses a request signed more than 15 minutes away from its clock. */
const SKEW_MS = 15 * 60 * 1000;

function signedNow(amzDate: unknown, now: number): boolean {
  const match = typeof amzDate === 'string' ? AMZ_DATE.exec(amzDate) : null;
  if (!match) return false;
  const [, year, month, day, hour, minute, second] = match.map(Number);
  const signed = Date.UTC(year ?? 0, (month ?? 1) - 1, day, hour, minute, second);
  return Math.abs(now - signed) <= SKEW_MS;
}

/**
 * The request when it is a plain object GET, HEAD or PUT from an SDK signed with the local key:
 * path-style, no query but the SDK's `x-id`, no range, condition, copy or CORS. Otherwise
 * undefined, and s3rver takes it.
 */
export function plainObjectRequest(
  request: IncomingMessage,
  now = Date.now(),
): ObjectRequest | undefined {
  const { method, headers } = request;
  if (method !== 'GET' && method !== 'HEAD' && method !== 'PUT') return undefined;
  if (!LOCAL_SIGV4.test(headers.authorization ?? '')) return undefined;
  if (!PAYLOAD_HASH.test(String(headers['x-amz-content-sha256'] ?? ''))) return undefined;
  if (!signedNow(headers['x-amz-date'], now)) return undefined;
  if (String(headers.host ?? '').includes('amazonaws.com')) return undefined;
  for (const name of SPECIAL_HEADERS) if (headers[name] !== undefined) return undefined;
  const url = request.url ?? '';
  const query = url.indexOf('?');
  if (query >= 0 && !/^x-id=(GetObject|PutObject)$/.test(url.slice(query + 1))) return undefined;
  const path = query >= 0 ? url.slice(0, query) : url;
  const slash = path.indexOf('/', 1);
  // Koa's router drops a trailing slash and empty segments; leave those keys to it.
  if (slash < 0 || path.endsWith('/') || path.includes('//')) return undefined;
  try {
    return {
      method,
      bucket: decodeURIComponent(path.slice(1, slash)),
      key: decodeURIComponent(path.slice(slash + 1)),
    };
  } catch {
    return undefined;
  }
}

/** What the hot path needs from s3.ts: its wrapped store, and its notifier. */
export interface HotPathStore {
  readonly store: Pick<S3rverStore, 'getBucket' | 'getMetadata' | 'getResourcePath' | 'putObject'>;
  readonly onPut: (put: {
    readonly bucket: string;
    readonly key: string;
    readonly etag: string;
    readonly size: number;
    readonly requestId: string;
    readonly sourceIp: string;
  }) => void;
}

/**
 * Serves a plain object request. Resolves false, having read nothing, when s3rver should answer
 * instead: a missing bucket, or metadata that could not be read. A missing key is answered here,
 * in s3rver's words.
 */
export async function servePlainObject(
  request: IncomingMessage,
  response: ServerResponse,
  object: ObjectRequest,
  { store, onPut }: HotPathStore,
): Promise<boolean> {
  const { bucket, key } = object;
  if (!(await store.getBucket(bucket))) return false;
  if (object.method === 'PUT') {
    const metadata = storedMetadata(request.headers);
    metadata['content-type'] ||= DEFAULT_TYPE;
    const length = Number(request.headers['content-length']);
    const content = length <= SMALL_OBJECT ? await buffer(request) : request;
    const { md5, size } = await store.putObject({ bucket, key, content, metadata });
    const etag = `"${md5}"`;
    // Thrown here, a listener's error (the queue refused the event) answers the PUT with a 500,
    // so the client retries instead of the event being lost: as through s3rver.
    const id = requestId();
    onPut({
      bucket,
      key,
      etag,
      size,
      requestId: id,
      sourceIp: request.socket.remoteAddress ?? '',
    });
    response.writeHead(200, { etag, 'content-length': 0, 'x-amz-request-id': id });
    response.end();
    return true;
  }
  let metadata: Record<string, string>;
  try {
    metadata = await store.getMetadata(bucket, key);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return false;
    // Optional configs (a dataset's variants file) are read on every file: answered here, as
    // s3rver words it.
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>${escapeXml(key)}</Key></Error>`;
    response.writeHead(404, {
      'content-type': 'application/xml',
      'content-length': Buffer.byteLength(body),
      'x-amz-request-id': requestId(),
    });
    response.end(object.method === 'HEAD' ? undefined : body);
    return true;
  }
  const path = store.getResourcePath(bucket, key, 'object');
  const size = Number(metadata['content-length']);
  let content: Buffer | ReadStream | undefined;
  try {
    if (object.method === 'HEAD') content = undefined;
    else if (size <= SMALL_OBJECT) content = readFileSync(path);
    // Never more bytes than the Content-Length sent, should the object grow meanwhile.
    else content = await opened(path, size - 1);
  } catch {
    // Deleted since its metadata was read.
    return false;
  }
  const headers: Record<string, string | number> = { 'accept-ranges': 'bytes', ...metadata };
  headers['content-type'] ||= DEFAULT_TYPE;
  if (Buffer.isBuffer(content)) headers['content-length'] = content.length;
  headers['x-amz-request-id'] = requestId();
  response.writeHead(200, headers);
  if (content === undefined || Buffer.isBuffer(content)) {
    response.end(content);
    return true;
  }
  // pipeline, not pipe: a client that goes away mid-body closes the file too.
  pipeline(content, response, () => {});
  return true;
}

/** S3's request ids are 16 hex digits; a PUT's is also its event's `request-id`. */
const requestId = (): string => randomBytes(8).toString('hex').toUpperCase();

function opened(path: string, end: number): Promise<ReadStream> {
  return new Promise((resolve, reject) => {
    const stream = createReadStream(path, { end });
    stream.once('open', () => resolve(stream));
    stream.once('error', reject);
  });
}
