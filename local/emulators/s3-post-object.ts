import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline, Readable, Transform, type TransformCallback } from 'node:stream';
import busboy from 'busboy';
import type { S3rverObject } from 's3rver';
import { escapeXml, sendAwsError } from './aws-error.ts';
import { LOCAL_CREDENTIALS } from './endpoint.ts';

/**
 * A POST Object that S3 refuses: `code` and `status` are what S3 answers with, in its XML error.
 */
export class PostObjectError extends Error {
  override name = 'PostObjectError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The client went away mid-form: there is no one to answer. */
class ClientAborted extends Error {
  override name = 'ClientAborted';
}

/** An object a form stored, for the Object Created event. */
export interface PostedObject {
  readonly bucket: string;
  readonly key: string;
  /** The MD5 of the bytes, hex, without quotes. */
  readonly md5: string;
  readonly size: number;
  /** Who sent the form, without the `::ffff:` of an IPv4-mapped address. */
  readonly sourceIp: string;
  /** Also the answer's `x-amz-request-id`. */
  readonly requestId: string;
}

/** What a POST Object needs of the local S3. */
export interface PostObjectOptions {
  readonly bucketExists: (bucket: string) => Promise<boolean>;
  /** Writes the object whole or not at all: the content stream fails if the upload is refused. */
  readonly putObject: (object: S3rverObject) => Promise<{ size: number; md5: string }>;
  /**
   * Called once the object is stored, before the answer. A throw answers 500, so the client
   * retries rather than the event being lost.
   */
  readonly onStored: (object: PostedObject) => void;
  /**
   * Secret access keys by access key id: a form signed by one of these keys must carry the right
   * signature.
   * @default - only LOCAL_CREDENTIALS, the key the local functions sign with
   */
  readonly secrets?: ReadonlyMap<string, string>;
}

const LOCAL_SECRETS: ReadonlyMap<string, string> = new Map([
  [LOCAL_CREDENTIALS.accessKeyId, LOCAL_CREDENTIALS.secretAccessKey],
]);

/** S3 caps a POST upload at 5 GB whatever the policy says. */
const MAX_POST_SIZE = 5 * 1024 ** 3;

/** S3 refuses a form whose fields before the file add up to more than 20 KB (20480 bytes). */
const MAX_PRE_DATA = 20 * 1024;

/**
 * A `file` part without a filename arrives as a text field (busboy's rule), held in memory: cap
 * it. Browsers and `curl -F file=@path` always send a filename.
 */
const MAX_TEXT_FILE = 1024 * 1024;

/** Fields no policy condition needs to name (sigv4-HTTPPOSTConstructPolicy, "Conditions"). */
const EXEMPT_FIELDS = new Set(['policy', 'x-amz-signature', 'file', 'awsaccesskeyid', 'signature']);

/** The form fields S3 keeps as the object's headers (the same set s3rver keeps on a PUT). */
const STORED_HEADERS = new Set([
  'cache-control',
  'content-disposition',
  'content-encoding',
  'content-type',
  'expires',
  'x-amz-storage-class',
  'x-amz-website-redirect-location',
]);

const STORAGE_CLASSES = new Set([
  'STANDARD',
  'REDUCED_REDUNDANCY',
  'STANDARD_IA',
  'ONEZONE_IA',
  'INTELLIGENT_TIERING',
  'GLACIER',
  'DEEP_ARCHIVE',
  'OUTPOSTS',
]);

/** S3's form variable for the name of the uploaded file, literally. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: the variable is S3's, not JavaScript's
const FILENAME_VARIABLE = '${filename}';

const SCOPE = /^([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request$/;

/**
 * The bucket a request posts a form to (`POST /<bucket>`, path style), or undefined for any
 * other request. `POST /<bucket>?delete` is DeleteObjects, not a form.
 */
export function postObjectBucket(request: IncomingMessage): string | undefined {
  if (request.method !== 'POST') return undefined;
  const url = request.url ?? '/';
  const queryAt = url.indexOf('?');
  const query = new URLSearchParams(queryAt === -1 ? '' : url.slice(queryAt + 1));
  if (query.has('delete')) return undefined;
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  const bucket = /^\/([^/]+)\/?$/.exec(path)?.[1];
  if (bucket === undefined) return undefined;
  try {
    return decodeURIComponent(bucket);
  } catch {
    return undefined;
  }
}

const invalidArgument = (message: string) => new PostObjectError(400, 'InvalidArgument', message);
const missingField = (name: string) =>
  invalidArgument(
    `Bucket POST must contain a field named '${name}'.  If it is specified, please check the order of the fields.`,
  );
const refusedByPolicy = (reason: string) =>
  new PostObjectError(403, 'AccessDenied', `Invalid according to Policy: ${reason}`);
const invalidPolicy = (reason: string) =>
  new PostObjectError(400, 'InvalidPolicyDocument', `Invalid Policy: ${reason}`);

type Condition =
  | {
      readonly kind: 'eq' | 'starts-with';
      /** Lower case, without the `$`. */
      readonly field: string;
      readonly value: string;
      readonly text: string;
    }
  | { readonly kind: 'content-length-range'; readonly min: number; readonly max: number };

/** A condition as S3 quotes it in its messages: `["eq", "$key", "incoming/a.csv"]`. */
const quote = (items: readonly unknown[]) =>
  `[${items.map((item) => JSON.stringify(item)).join(', ')}]`;

function parseCondition(condition: unknown): Condition {
  if (Array.isArray(condition)) {
    const [operator, field, value] = condition as unknown[];
    const op = typeof operator === 'string' ? operator.toLowerCase() : '';
    if (op === 'content-length-range' && condition.length === 3) {
      const min = Number(field);
      const max = Number(value);
      if (Number.isSafeInteger(min) && Number.isSafeInteger(max) && min >= 0 && min <= max) {
        return { kind: op, min, max };
      }
    } else if (
      (op === 'eq' || op === 'starts-with') &&
      condition.length === 3 &&
      typeof field === 'string' &&
      field.startsWith('$') &&
      typeof value === 'string'
    ) {
      return { kind: op, field: field.slice(1).toLowerCase(), value, text: quote(condition) };
    }
  } else if (typeof condition === 'object' && condition !== null) {
    const entries = Object.entries(condition);
    const [name, value] = entries[0] ?? [];
    if (entries.length === 1 && name !== undefined && typeof value === 'string') {
      return {
        kind: 'eq',
        field: name.toLowerCase(),
        value,
        text: quote(['eq', `$${name}`, value]),
      };
    }
  }
  throw invalidPolicy(`Invalid Condition: ${JSON.stringify(condition)}`);
}

/** Decodes the base64 JSON policy: its expiration and its conditions. */
function parsePolicy(encoded: string): { expiration: Date; conditions: Condition[] } {
  let document: unknown;
  try {
    document = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8'));
  } catch {
    throw invalidPolicy('Invalid JSON.');
  }
  if (typeof document !== 'object' || document === null) throw invalidPolicy('Invalid JSON.');
  const { expiration, conditions } = document as { expiration?: unknown; conditions?: unknown };
  if (expiration === undefined) throw invalidPolicy('Policy missing expiration.');
  const expires = typeof expiration === 'string' ? new Date(expiration) : new Date(Number.NaN);
  if (Number.isNaN(expires.getTime())) {
    throw invalidPolicy(`Invalid 'expiration' value: ${JSON.stringify(expiration)}`);
  }
  if (!Array.isArray(conditions)) throw invalidPolicy('Policy missing conditions.');
  return { expiration: expires, conditions: conditions.map(parseCondition) };
}

const hmac = (key: string | Buffer, data: string) =>
  createHmac('sha256', key).update(data).digest();

/** Compares two signatures without leaking, by timing, how much of one matched. */
function sameSignature(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Checks the policy's signature: SigV4 (`X-Amz-*` fields) or SigV2 (`AWSAccessKeyId` and
 * `Signature`), both an HMAC over the base64 policy string as sent.
 *
 * Offline, sluice takes any credentials (the edge maps them to s3rver's), so only a key whose
 * secret the local stack knows can be checked: a form signed with one must be signed right, and
 * a form signed with any other key is taken as signed, as the rest of the local endpoint takes
 * its requests.
 */
function verifySignature(
  fields: ReadonlyMap<string, string>,
  policy: string,
  secrets: ReadonlyMap<string, string>,
): void {
  const mismatch = () =>
    new PostObjectError(
      403,
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    );
  const v4 = ['x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-signature'];
  if (fields.has('awsaccesskeyid') && !v4.some((name) => fields.has(name))) {
    const signature = fields.get('signature');
    if (signature === undefined) throw missingField('Signature');
    const secret = secrets.get(fields.get('awsaccesskeyid') ?? '');
    if (secret === undefined) return;
    const expected = createHmac('sha1', secret).update(policy).digest('base64');
    if (!sameSignature(expected, signature)) throw mismatch();
    return;
  }
  const [algorithm, credential, date, signature] = v4.map((name) => fields.get(name));
  if (algorithm === undefined) throw missingField('X-Amz-Algorithm');
  if (credential === undefined) throw missingField('X-Amz-Credential');
  if (date === undefined) throw missingField('X-Amz-Date');
  if (signature === undefined) throw missingField('X-Amz-Signature');
  if (algorithm !== 'AWS4-HMAC-SHA256') {
    throw invalidArgument(`X-Amz-Algorithm only supports "AWS4-HMAC-SHA256", not "${algorithm}"`);
  }
  const scope = SCOPE.exec(credential);
  if (!scope) {
    throw invalidArgument(
      `X-Amz-Credential is not <access key>/<yyyymmdd>/<region>/<service>/aws4_request: ${credential}`,
    );
  }
  const [, accessKeyId = '', day = '', region = '', service = ''] = scope;
  const secret = secrets.get(accessKeyId);
  if (secret === undefined) return;
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), service), 'aws4_request');
  if (!sameSignature(hmac(key, policy).toString('hex'), signature.toLowerCase())) throw mismatch();
}

/** What a form may upload, once its policy holds. */
interface UploadPlan {
  readonly key: string;
  readonly minSize: number;
  readonly maxSize: number;
  readonly contentMd5?: string;
  readonly metadata: Record<string, string>;
}

/**
 * Checks a form's fields (names in lower case, `${filename}` already substituted) against its
 * signed policy: the key, the signature, the expiry, the conditions, then the fields no
 * condition names.
 */
function authorize(
  bucket: string,
  fields: ReadonlyMap<string, string>,
  secrets: ReadonlyMap<string, string>,
): UploadPlan {
  const key = fields.get('key');
  if (key === undefined) throw missingField('key');
  if (key === '') throw invalidArgument('User key must have a length greater than 0.');
  const policy = fields.get('policy');
  // No policy makes the form anonymous, which only a publicly writable bucket takes.
  if (policy === undefined) throw new PostObjectError(403, 'AccessDenied', 'Access Denied');
  verifySignature(fields, policy, secrets);
  const { expiration, conditions } = parsePolicy(policy);
  if (expiration.getTime() <= Date.now()) throw refusedByPolicy('Policy expired.');

  let minSize = 0;
  let maxSize = MAX_POST_SIZE;
  const named = new Set<string>();
  for (const condition of conditions) {
    if (condition.kind === 'content-length-range') {
      minSize = Math.max(minSize, condition.min);
      maxSize = Math.min(maxSize, condition.max);
      continue;
    }
    named.add(condition.field);
    // The bucket is the one posted to, not a field; an absent field is an empty one.
    const value = condition.field === 'bucket' ? bucket : (fields.get(condition.field) ?? '');
    const holds =
      condition.kind === 'eq' ? value === condition.value : value.startsWith(condition.value);
    if (!holds) throw refusedByPolicy(`Policy Condition failed: ${condition.text}`);
  }
  const extra = [...fields.keys()].filter(
    (name) => !EXEMPT_FIELDS.has(name) && !name.startsWith('x-ignore-') && !named.has(name),
  );
  if (extra.length > 0) throw refusedByPolicy(`Extra input fields: ${extra.join(', ')}`);

  const metadata: Record<string, string> = { 'content-type': 'binary/octet-stream' };
  for (const [name, value] of fields) {
    if (STORED_HEADERS.has(name) || name.startsWith('x-amz-meta-')) metadata[name] = value;
  }
  const storageClass = metadata['x-amz-storage-class'];
  if (storageClass !== undefined && !STORAGE_CLASSES.has(storageClass)) {
    throw new PostObjectError(
      400,
      'InvalidStorageClass',
      'The storage class you specified is not valid',
    );
  }
  const contentMd5 = fields.get('content-md5');
  if (contentMd5 !== undefined && Buffer.from(contentMd5, 'base64').length !== 16) {
    throw new PostObjectError(400, 'InvalidDigest', 'The Content-MD5 you specified was invalid.');
  }
  return { key, minSize, maxSize, contentMd5, metadata };
}

/**
 * Passes the file's bytes on while counting them, and fails the stream, so that the store keeps
 * nothing, as soon as they exceed the policy's range, or at the end if they fall short or the
 * form after them does not parse. The end waits for the whole form, because S3 stores nothing
 * from a form it could not read to the end.
 */
class UploadCheck extends Transform {
  private size = 0;
  private readonly md5 = createHash('md5');

  constructor(
    private readonly plan: UploadPlan,
    private readonly formParsed: Promise<void>,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.plan.maxSize) {
      callback(
        new PostObjectError(
          400,
          'EntityTooLarge',
          `Your proposed upload exceeds the maximum allowed size (${this.plan.maxSize} bytes)`,
        ),
      );
      return;
    }
    this.md5.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.formParsed.then(() => {
      if (this.size < this.plan.minSize) {
        callback(
          new PostObjectError(
            400,
            'EntityTooSmall',
            `Your proposed upload is smaller than the minimum allowed size (${this.plan.minSize} bytes)`,
          ),
        );
      } else if (
        this.plan.contentMd5 !== undefined &&
        this.md5.digest('base64') !== this.plan.contentMd5
      ) {
        callback(
          new PostObjectError(
            400,
            'BadDigest',
            'The Content-MD5 you specified did not match what we received.',
          ),
        );
      } else {
        callback();
      }
    }, callback);
  }
}

/** Resolves once the request's body has been read to its end, or the client has gone. */
const drained = (request: IncomingMessage): Promise<void> =>
  request.complete || request.readableEnded
    ? Promise.resolve()
    : new Promise((resolve) => {
        request.once('end', resolve);
        request.once('close', resolve);
      });

/** Reads a part away; busboy fails it if the form is cut short, which is no one's concern here. */
const discard = (part: Readable) => part.on('error', () => undefined).resume();

/** The file's name as S3 substitutes it: what follows the last `/` or `\`. */
const baseName = (filename: string) =>
  filename.slice(Math.max(filename.lastIndexOf('/'), filename.lastIndexOf('\\')) + 1);

interface Received extends PostedObject {
  readonly fields: ReadonlyMap<string, string>;
}

/**
 * Reads a form as a stream, checks it, and stores its file. Settles only once the request's body
 * has been read to the end: a refusal reads the rest away first, so that a client still sending
 * (fetch writes the whole body before it reads) gets the answer rather than a reset.
 */
function receive(
  request: IncomingMessage,
  bucket: string,
  options: PostObjectOptions,
): Promise<Received> {
  return new Promise((resolve, reject) => {
    const refuse = (error: Error) => {
      request.resume();
      void drained(request).then(() => reject(error));
    };
    const type = String(request.headers['content-type'] ?? '');
    if (!/^multipart\/form-data\s*;/i.test(type)) {
      refuse(
        new PostObjectError(
          412,
          'PreconditionFailed',
          'Bucket POST must be of the enclosure-type multipart/form-data',
        ),
      );
      return;
    }
    let form: busboy.Busboy;
    try {
      form = busboy({
        headers: request.headers,
        preservePath: true,
        // Browsers send a filename as UTF-8 bytes; busboy would read them as Latin-1.
        defParamCharset: 'utf8',
        limits: { fieldSize: MAX_TEXT_FILE },
      });
    } catch (error) {
      refuse(new PostObjectError(400, 'MalformedPOSTRequest', (error as Error).message));
      return;
    }

    const secrets = options.secrets ?? LOCAL_SECRETS;
    const fields = new Map<string, string>();
    let preData = 0;
    let fileSeen = false;
    let failure: Error | undefined;
    let formParsed: () => void = () => undefined;
    let formFailed: (error: Error) => void = () => undefined;
    const parsed = new Promise<void>((resolve, reject) => {
      formParsed = resolve;
      formFailed = reject;
    });
    parsed.catch(() => undefined);

    const fail = (error: Error) => {
      if (failure) return;
      failure = error;
      formFailed(error);
      request.unpipe(form);
      // Also fails the file stream, hence the upload: the store keeps nothing.
      form.destroy();
      refuse(error);
    };

    const onFile = (content: Readable, filename: string) => {
      fileSeen = true;
      // S3 substitutes the name the client gave its file in every field.
      const substituted = new Map(
        [...fields].map(([name, value]) => [name, value.replaceAll(FILENAME_VARIABLE, filename)]),
      );
      let plan: UploadPlan;
      try {
        plan = authorize(bucket, substituted, secrets);
      } catch (error) {
        discard(content);
        fail(error as Error);
        return;
      }
      const check = new UploadCheck(plan, parsed);
      // The check's own error reaches the store, and through it `fail`.
      pipeline(content, check, () => undefined);
      options
        .putObject({ bucket, key: plan.key, content: check, metadata: plan.metadata })
        .then(({ md5, size }) => {
          if (failure) return;
          const sourceIp = (request.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
          const requestId = randomBytes(8).toString('hex').toUpperCase();
          resolve({ bucket, key: plan.key, md5, size, sourceIp, requestId, fields: substituted });
        }, fail);
    };

    form.on('field', (name, value, info) => {
      // S3 ignores whatever follows the file.
      if (fileSeen || failure) return;
      const field = name.toLowerCase();
      if (field === 'file') {
        if (info.valueTruncated) {
          fail(
            invalidArgument(
              `sluice: a 'file' field without a filename is read as text, up to ${MAX_TEXT_FILE} bytes; send it as a file (with a filename)`,
            ),
          );
        } else {
          onFile(Readable.from([Buffer.from(value)]), '');
        }
        return;
      }
      preData += Buffer.byteLength(name) + Buffer.byteLength(value);
      if (info.valueTruncated || preData > MAX_PRE_DATA) {
        fail(
          new PostObjectError(
            400,
            // The code S3 answers with; its error table adds an `Error` suffix.
            'MaxPostPreDataLengthExceeded',
            'Your POST request fields preceding the upload file were too large.',
          ),
        );
        return;
      }
      fields.set(field, value);
    });
    form.on('file', (name, stream, info) => {
      if (fileSeen || failure || name.toLowerCase() !== 'file') {
        discard(stream);
        return;
      }
      onFile(stream, baseName(info.filename ?? ''));
    });
    form.on('error', (error) =>
      fail(
        new PostObjectError(
          400,
          'MalformedPOSTRequest',
          `The body of your POST request is not well-formed multipart/form-data. (${(error as Error).message})`,
        ),
      ),
    );
    // Also emitted after a destroy, which `fail` marks first.
    form.on('close', () => {
      if (failure) return;
      if (!fileSeen) {
        fail(invalidArgument('POST requires exactly one file upload per request.'));
        return;
      }
      formParsed();
    });
    request.on('close', () => {
      if (!request.complete) fail(new ClientAborted('the client closed the connection mid-form'));
    });
    request.pipe(form);
  });
}

/** The object's URL on the host the form was posted to, path style. */
function objectUrl(request: IncomingMessage, bucket: string, key: string): string {
  const path = [bucket, ...key.split('/')].map(encodeURIComponent).join('/');
  return `http://${request.headers.host ?? '127.0.0.1'}/${path}`;
}

/** S3's answer to a stored form: a redirect, a PostResponse, or an empty 200 or 204. */
function answer(request: IncomingMessage, response: ServerResponse, posted: Received): void {
  const etag = `"${posted.md5}"`;
  const location = objectUrl(request, posted.bucket, posted.key);
  const headers = {
    etag,
    location,
    'x-amz-request-id': posted.requestId,
  };
  const redirect = posted.fields.get('success_action_redirect') ?? posted.fields.get('redirect');
  let target: URL | undefined;
  try {
    target = redirect === undefined ? undefined : new URL(redirect);
  } catch {
    // S3 acts as if a URL it cannot interpret were not there.
  }
  if (target) {
    target.searchParams.append('bucket', posted.bucket);
    target.searchParams.append('key', posted.key);
    target.searchParams.append('etag', etag);
    response.writeHead(303, { ...headers, location: target.href, 'content-length': 0 });
    response.end();
    return;
  }
  const status = posted.fields.get('success_action_status');
  if (status === '201') {
    const body =
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
      `<PostResponse><Location>${escapeXml(location)}</Location><Bucket>${escapeXml(posted.bucket)}</Bucket>` +
      `<Key>${escapeXml(posted.key)}</Key><ETag>${escapeXml(etag)}</ETag></PostResponse>`;
    response.writeHead(201, {
      ...headers,
      'content-type': 'application/xml',
      'content-length': Buffer.byteLength(body),
    });
    response.end(body);
    return;
  }
  response.writeHead(status === '200' ? 200 : 204, headers);
  response.end();
}

/**
 * Serves S3's POST Object (a browser form upload to `POST /<bucket>`) with the checks s3rver
 * leaves out: the signed policy, its expiry, its conditions, the fields it must name, and the
 * file's size, counted as it streams. A refused form stores nothing and fires no event; a stored
 * one calls `onStored` before it answers. Never rejects: every failure is answered in S3's shape.
 */
export async function servePostObject(
  request: IncomingMessage,
  response: ServerResponse,
  bucket: string,
  options: PostObjectOptions,
): Promise<void> {
  try {
    if (!(await options.bucketExists(bucket))) {
      request.resume();
      await drained(request);
      throw new PostObjectError(404, 'NoSuchBucket', 'The specified bucket does not exist');
    }
    const posted = await receive(request, bucket, options);
    try {
      options.onStored(posted);
    } catch (error) {
      throw new PostObjectError(
        500,
        'InternalError',
        `We encountered an internal error. Please try again. (${(error as Error).message})`,
      );
    }
    answer(request, response, posted);
  } catch (error) {
    if (error instanceof ClientAborted || response.destroyed) {
      response.destroy();
    } else if (error instanceof PostObjectError) {
      sendAwsError(response, error.status, 'xml', error.code, error.message, { s3: true });
    } else {
      sendAwsError(
        response,
        500,
        'xml',
        'InternalError',
        `We encountered an internal error. Please try again. (${(error as Error).message})`,
        { s3: true },
      );
    }
  }
}
