import { createHash } from 'node:crypto';
import { extname, posix } from 'node:path';
import { INCOMING_PREFIX } from './constants.ts';
import type { FileKind, FileRef } from './types.ts';

const IMAGE_EXTENSIONS = new Set([
  '.jpg',
  '.jpeg',
  '.png',
  '.webp',
  '.gif',
  '.tif',
  '.tiff',
  '.avif',
  '.heic',
  '.heif',
]);

/** Dataset of files dropped straight into `incoming/`, outside any folder. */
export const DEFAULT_DATASET = 'default';

/** S3 form-encodes keys in event notifications: `+` is a space, and the rest is percent-encoded. */
export function decodeS3EventKey(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}

/** Routes by extension; the engines then check the file's real bytes. */
export function kindOf(key: string): FileKind {
  const extension = extname(key).toLowerCase();
  if (IMAGE_EXTENSIONS.has(extension)) return 'image';
  if (extension === '.csv') return 'csv';
  return 'unknown';
}

/**
 * Deterministic execution name for one version of one object, so a redelivered or duplicated
 * event collides with the first execution (ExecutionAlreadyExists) instead of processing twice.
 */
export function executionName(bucket: string, key: string, versionTag: string): string {
  return createHash('sha256').update(`${bucket}\0${key}\0${versionTag}`).digest('hex').slice(0, 64);
}

/**
 * The execution name of one attempt at a version: the upload's own (attempt 1) is
 * {@link executionName}, and a replay adds its attempt number, so each attempt runs once.
 */
export function attemptExecutionName(file: FileRef, attempt: number): string {
  const name = executionName(file.bucket, file.key, file.versionTag);
  return attempt === 1 ? name : `${name}-${attempt}`;
}

/**
 * A file version's tag is its ETag, not its S3 version id: an event carries both, but a listing
 * (ProcessBatch's ItemReader) gives only the ETag, and the two must name one version the same so
 * that a batch never processes a version twice by accident. The ETag names the content, so a
 * re-upload of the same bytes is the same version.
 */
export const versionTagOf = (etag: string) => etag.replace(/"/g, '');

/** Builds the file reference from an S3 Object Created event, or undefined outside `incoming/`. */
export function fileRefFromEvent(event: ObjectCreatedEvent): FileRef | undefined {
  const { bucket, object } = event.detail;
  return fileRef({
    bucket: bucket.name,
    key: decodeS3EventKey(object.key),
    versionTag: versionTagOf(object.etag),
    size: object.size,
    receivedAt: event.time,
  });
}

/** What a file reference needs of S3's Object Created event, as EventBridge delivers it. */
export interface ObjectCreatedEvent {
  readonly time: string;
  readonly detail: {
    readonly bucket: { readonly name: string };
    readonly object: {
      readonly key: string;
      readonly size: number;
      readonly etag: string;
      readonly 'version-id'?: string;
    };
  };
}

/** The dataset of a key under `incoming/`: its first folder (undefined elsewhere). */
export function datasetOf(key: string): string | undefined {
  if (!key.startsWith(INCOMING_PREFIX) || key.endsWith('/')) return undefined;
  const folder = posix.dirname(key.slice(INCOMING_PREFIX.length));
  return folder === '.' ? DEFAULT_DATASET : (folder.split('/')[0] ?? DEFAULT_DATASET);
}

/**
 * The file reference of one object version under `incoming/` (undefined elsewhere): its dataset
 * is the first folder, its name the file name without extension.
 */
export function fileRef(
  object: Pick<FileRef, 'bucket' | 'key' | 'versionTag' | 'size' | 'receivedAt'>,
): FileRef | undefined {
  const { key } = object;
  const dataset = datasetOf(key);
  if (dataset === undefined) return undefined;
  const base = posix.basename(key);
  return {
    bucket: object.bucket,
    key,
    versionTag: object.versionTag,
    size: object.size,
    dataset,
    name: base.slice(0, base.length - extname(base).length) || base,
    kind: kindOf(key),
    receivedAt: object.receivedAt,
  };
}
