import type { UploadPath } from '../server/console-server.ts';
import type { FileDetail } from '../server/file-detail.ts';
import type { FilePage, FileRow } from '../server/file-index.ts';
import type { FailureGroup } from '../server/triage.ts';

export type { FailureGroup, FileDetail, FilePage, FileRow, UploadPath };

/** A plan the server would carry out once confirmed. */
export interface ActionPlan {
  readonly confirmed: boolean;
  /** Which states would run again. */
  readonly rerun: string;
  readonly plan: readonly {
    readonly key: string | null;
    readonly executionArn: string;
    readonly lastError: { name: string; message: string } | null;
    readonly action: string;
  }[];
}

export class ApiError extends Error {}

async function answer<T>(response: Response): Promise<T> {
  const body = await response.json();
  if (!response.ok) throw new ApiError(body?.error?.message ?? `HTTP ${response.status}`);
  return body as T;
}

export const getJson = <T>(path: string): Promise<T> => fetch(path).then((r) => answer<T>(r));

export const postJson = <T>(path: string, body: unknown): Promise<T> =>
  fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  }).then((r) => answer<T>(r));

export const objectUrl = (key: string) => `/api/object?key=${encodeURIComponent(key)}`;
export const fileUrl = (key: string) => `/file?key=${encodeURIComponent(key)}`;
