import { INCOMING_PREFIX } from '#commons/constants.ts';
import { kindOf } from '#commons/file-ref.ts';
import type { FileKind } from '#commons/types.ts';

/** How long a presigned POST stays good: enough to start an upload, too short to hand around. */
export const UPLOAD_EXPIRY_SECONDS = 300;

/**
 * The largest CSV a dataset accepts. ValidateCsv streams in bounded memory, so the bound is its
 * 15-minute timeout at the engine's measured rate (about 30 MB/s on one core) with room to spare.
 */
export const CSV_MAX_BYTES = 5 * 1024 ** 3;

/** S3 keys are at most 1024 bytes; a name this long still leaves room for the prefix. */
const MAX_FILENAME_BYTES = 255;

/**
 * Why a filename cannot become a key under `incoming/<dataset>/`, or undefined when it can. A
 * filename is one path segment: folders, parent references and control characters would let a
 * partner write outside their dataset or forge what ops read in logs.
 */
export function filenameProblem(filename: string): string | undefined {
  if (filename.length === 0) return 'is empty';
  if (Buffer.byteLength(filename) > MAX_FILENAME_BYTES) {
    return `is over ${MAX_FILENAME_BYTES} bytes`;
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  if (/[\u0000-\u001f\u007f]/.test(filename)) return 'has a control character';
  if (filename.includes('/') || filename.includes('\\')) {
    return 'is a path: give the file name alone, without folders';
  }
  if (filename === '.' || filename === '..') return `is "${filename}"`;
  // S3 fills `${filename}` in a POST's key from the browser's file, which would unpin the key.
  if (filename.includes('${')) return 'has "${", which S3 would fill in from the form';
  if (filename.trim() !== filename) return 'starts or ends with white space';
  return undefined;
}

/** The upload's kind by its name, as the pipeline will route it; undefined for neither. */
export function uploadKind(filename: string): Exclude<FileKind, 'unknown'> | undefined {
  const kind = kindOf(filename);
  return kind === 'unknown' ? undefined : kind;
}

export interface UploadPlan {
  readonly key: string;
  readonly maxBytes: number;
  /** The POST policy's conditions beyond its fields'. */
  readonly conditions: readonly unknown[];
  readonly fields: Readonly<Record<string, string>>;
}

/**
 * The key and policy of one upload: the exact key under the dataset's folder, 1 byte up to the
 * dataset's limit, and the content type when one was given. Pinning the exact key (not a prefix)
 * means a presigned form cannot be reused for another name.
 */
export function planUpload(request: {
  readonly dataset: string;
  readonly filename: string;
  readonly contentType?: string;
  readonly maxBytes: number;
}): UploadPlan {
  const key = `${INCOMING_PREFIX}${request.dataset}/${request.filename}`;
  // The presigner turns every field into an exact-match condition, the key included.
  const fields: Record<string, string> = request.contentType
    ? { 'Content-Type': request.contentType }
    : {};
  return {
    key,
    maxBytes: request.maxBytes,
    conditions: [['content-length-range', 1, request.maxBytes]],
    fields,
  };
}
