import { createHash } from 'node:crypto';
import { extname, posix } from 'node:path';
import type { S3ObjectCreatedNotificationEvent } from 'aws-lambda';
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

/** Builds the file reference from an S3 Object Created event, or undefined outside `incoming/`. */
export function fileRefFromEvent(event: S3ObjectCreatedNotificationEvent): FileRef | undefined {
  const { bucket, object } = event.detail;
  const key = decodeS3EventKey(object.key);
  if (!key.startsWith(INCOMING_PREFIX) || key.endsWith('/')) return undefined;
  const relative = key.slice(INCOMING_PREFIX.length);
  const folder = posix.dirname(relative);
  const base = posix.basename(relative);
  return {
    bucket: bucket.name,
    key,
    versionTag: object['version-id'] || object.etag.replace(/"/g, ''),
    size: object.size,
    dataset: folder === '.' ? DEFAULT_DATASET : (folder.split('/')[0] ?? DEFAULT_DATASET),
    name: base.slice(0, base.length - extname(base).length) || base,
    kind: kindOf(key),
    receivedAt: event.time,
  };
}
