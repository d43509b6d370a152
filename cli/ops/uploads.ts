import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import type { SdkError } from '@smithy/types';
import { INCOMING_PREFIX, SCHEMAS_PREFIX } from '#commons/constants.ts';
import { DEFAULT_DATASET } from '#commons/file-ref.ts';
import { InvalidOption, NothingToUpload } from './errors.ts';
import type { OpsTarget } from './target.ts';

/** One file to upload, and where it goes. */
export interface PlannedUpload {
  readonly path: string;
  readonly key: string;
  readonly bytes: number;
}

/** One uploaded file: the `sluice upload -o json` contract. */
export interface UploadResult {
  readonly key: string;
  readonly bytes: number;
  /** The object's ETag without quotes (`<md5>-<parts>` for a multipart upload); null if it failed. */
  readonly etag: string | null;
  readonly path: string;
  /** Why the upload failed; absent when it succeeded. */
  readonly error?: { readonly name: string; readonly message: string };
}

/** Progress across all files, for the bar. */
export interface UploadProgress {
  readonly files: number;
  readonly filesDone: number;
  readonly bytes: number;
  readonly bytesDone: number;
}

/** Parts of 8 MiB (S3's minimum is 5 MiB), four in flight per file: files over 8 MiB go multipart. */
export const PART_SIZE = 8 * 1024 * 1024;
/**
 * Waits before a file's upload is tried again after the SDK's own retries gave up on a transient
 * error: about 40 s in all, so an S3 outage of that long loses no upload.
 */
const UPLOAD_RETRY_WAITS_MS = [2_000, 8_000, 30_000];
const PARTS_IN_FLIGHT = 4;
const FILES_IN_FLIGHT = 4;
/** A folder of an upload dir whose files configure datasets: they go to `schemas/`, as in `sluice run`. */
const SCHEMAS_DIR = 'schemas';

function checkDataset(dataset: string): void {
  if (!dataset || dataset === '.' || dataset === '..' || /[/\\]/.test(dataset)) {
    throw new InvalidOption(
      `--dataset ${JSON.stringify(dataset)}: give one folder name, e.g. orders`,
    );
  }
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries) {
    const path = join(entry.parentPath, entry.name);
    const rel = relative(dir, path).split(sep);
    // Hidden files and folders (.DS_Store, .git) are no one's data.
    if (rel.some((part) => part.startsWith('.'))) continue;
    if (entry.isFile() || (entry.isSymbolicLink() && (await stat(path)).isFile())) {
      files.push(rel.join('/'));
    }
  }
  return files.sort();
}

/**
 * Where each file goes. A file: `incoming/<dataset>/<name>` (`default` without `--dataset`). A
 * dir with `--dataset`: `incoming/<dataset>/<relative path>`. A dir without: as `sluice run`
 * does, its first-level folders are the datasets, `schemas/*` goes to `schemas/`, and files at
 * its top go to `incoming/` itself (dataset `default`).
 * @throws NothingToUpload, InvalidOption
 */
export async function planUploads(path: string, dataset?: string): Promise<PlannedUpload[]> {
  if (dataset !== undefined) checkDataset(dataset);
  const absolute = resolve(path);
  const info = await stat(absolute).catch(() => undefined);
  if (!info) throw new NothingToUpload(`${path}: no such file or directory`);
  if (info.isFile()) {
    return [
      {
        path: absolute,
        key: `${INCOMING_PREFIX}${dataset ?? DEFAULT_DATASET}/${basename(absolute)}`,
        bytes: info.size,
      },
    ];
  }
  if (!info.isDirectory()) throw new NothingToUpload(`${path} is neither a file nor a directory`);
  const files = await listFiles(absolute);
  if (files.length === 0) throw new NothingToUpload(`${path} holds no file to upload`);
  return Promise.all(
    files.map(async (file): Promise<PlannedUpload> => {
      let key: string;
      if (dataset !== undefined) key = `${INCOMING_PREFIX}${dataset}/${file}`;
      else if (file.startsWith(`${SCHEMAS_DIR}/`))
        key = `${SCHEMAS_PREFIX}${file.slice(SCHEMAS_DIR.length + 1)}`;
      else key = `${INCOMING_PREFIX}${file}`;
      const full = join(absolute, file);
      return { path: full, key, bytes: (await stat(full)).size };
    }),
  );
}

/**
 * Uploads the planned files, schemas first so a dataset's schema is there before its files are
 * processed, then the rest a few at a time; big files go multipart (@aws-sdk/lib-storage).
 * A failed file does not stop the others: its result carries the error.
 */
export async function uploadFiles(
  target: OpsTarget,
  plan: readonly PlannedUpload[],
  onProgress?: (progress: UploadProgress) => void,
): Promise<UploadResult[]> {
  const loaded = new Map<string, number>();
  let filesDone = 0;
  const total = plan.reduce((sum, file) => sum + file.bytes, 0);
  const report = () =>
    onProgress?.({
      files: plan.length,
      filesDone,
      bytes: total,
      bytesDone: [...loaded.values()].reduce((sum, n) => sum + n, 0),
    });
  const { Upload } = await import('@aws-sdk/lib-storage');
  const { isThrottlingError, isTransientError } = await import(
    '@smithy/service-error-classification'
  );
  /** One try; a failure comes back with the error itself, to tell a transient one. */
  const uploadOnce = async (file: PlannedUpload): Promise<[UploadResult, unknown]> => {
    try {
      const upload = new Upload({
        client: target.s3,
        params: { Bucket: target.names.bucket, Key: file.key, Body: createReadStream(file.path) },
        partSize: PART_SIZE,
        queueSize: PARTS_IN_FLIGHT,
        leavePartsOnError: false,
      });
      upload.on('httpUploadProgress', (progress) => {
        loaded.set(file.key, Math.min(progress.loaded ?? 0, file.bytes));
        report();
      });
      const done = await upload.done();
      const etag = (done.ETag ?? '').replace(/"/g, '') || null;
      return [{ key: file.key, bytes: file.bytes, etag, path: file.path }, undefined];
    } catch (error) {
      const failure = error as Error;
      const result = { key: file.key, bytes: file.bytes, etag: null, path: file.path };
      return [{ ...result, error: { name: failure.name, message: failure.message } }, error];
    }
  };
  const uploadOne = async (file: PlannedUpload): Promise<UploadResult> => {
    try {
      for (const wait of UPLOAD_RETRY_WAITS_MS) {
        const [result, error] = await uploadOnce(file);
        const transient =
          error !== undefined &&
          (isThrottlingError(error as SdkError) || isTransientError(error as SdkError));
        if (!transient) return result;
        await new Promise((wake) => setTimeout(wake, wait));
      }
      return (await uploadOnce(file))[0];
    } finally {
      loaded.set(file.key, file.bytes);
      filesDone++;
      report();
    }
  };
  const results = new Map<string, UploadResult>();
  const schemas = plan.filter((file) => file.key.startsWith(SCHEMAS_PREFIX));
  for (const file of schemas) results.set(file.key, await uploadOne(file));
  const queue = plan.filter((file) => !file.key.startsWith(SCHEMAS_PREFIX));
  await Promise.all(
    Array.from({ length: FILES_IN_FLIGHT }, async () => {
      for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
        results.set(file.key, await uploadOne(file));
      }
    }),
  );
  return plan.map((file) => results.get(file.key) as UploadResult);
}
