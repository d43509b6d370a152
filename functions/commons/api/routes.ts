import { z } from 'zod';
import { filenameProblem } from './upload-policy.ts';

/**
 * The HTTP API's routes: API Gateway's route keys (CDK makes one route each), the handler's
 * dispatch, the offline gateway's matching and the OpenAPI document all read this one table.
 */

const FILE_STATUSES = ['PROCESSING', 'SUCCEEDED', 'FAILED', 'QUARANTINED', 'SKIPPED_DUPLICATE'];

/** A dataset is the folder under `incoming/`: one path segment, never a trick. */
export const datasetName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'letters, digits, ".", "_" and "-", at most 128');

export const uploadRequest = z.strictObject({
  dataset: datasetName,
  filename: z.string().superRefine((filename, context) => {
    const problem = filenameProblem(filename);
    if (problem) context.addIssue({ code: 'custom', message: problem });
  }),
  bytes: z.number().int().min(1).describe('The size of the file to upload, in bytes'),
  contentType: z
    .string()
    .regex(/^[\w.+-]+\/[\w.+-]+$/, 'a MIME type such as text/csv')
    .optional()
    .describe('Sent as Content-Type with the form; pinned by the policy'),
});
export type UploadRequest = z.infer<typeof uploadRequest>;

export const uploadResponse = z.object({
  key: z.string(),
  url: z.string().describe('POST a multipart form here: every field, then the file as `file`'),
  fields: z.record(z.string(), z.string()),
  maxBytes: z.number().int(),
  expiresAt: z.string(),
});

const recordedError = z.object({ name: z.string(), message: z.string() }).nullable();

export const attemptView = z.object({
  attempt: z.number().int(),
  status: z.enum(FILE_STATUSES),
  executionId: z.string(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  durationMs: z.number().nullable(),
  outputs: z.array(z.string()),
  error: recordedError,
});

export const fileStatus = z.object({
  key: z.string(),
  dataset: z.string(),
  kind: z.enum(['image', 'csv', 'unknown']),
  size: z.number(),
  versionTag: z.string(),
  status: z.enum(FILE_STATUSES).describe("The latest attempt's status"),
  outputs: z.array(z.string()),
  error: recordedError,
  receivedAt: z.string(),
  attempts: z.array(attemptView),
  duplicates: z.number().int().describe('Upload events of this version skipped as duplicates'),
});

export const fileKeyPath = z.object({
  key: z.string().min(1).describe('The object key, such as incoming/orders/2026-01.csv'),
});

export const datasetFilesPath = z.object({ dataset: datasetName });

export const datasetFilesQuery = z.strictObject({
  status: z
    .enum(FILE_STATUSES.filter((status) => status !== 'PROCESSING'))
    .optional()
    .describe('Only files that ended in this status'),
  since: z.iso
    .datetime({ offset: true })
    .optional()
    .describe('Only files that reached their status at or after this time'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  nextToken: z.string().optional().describe('From the previous page'),
});

export const datasetFilesPage = z.object({
  items: z.array(
    z.object({
      key: z.string(),
      versionTag: z.string(),
      attempt: z.number().int().nullable(),
      kind: z.string(),
      size: z.number(),
      status: z.enum(FILE_STATUSES),
      statusAt: z.string(),
      error: recordedError,
      executionId: z.string(),
    }),
  ),
  nextToken: z.string().nullable(),
});

export const apiError = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    field: z.string().optional().describe('The request field at fault'),
  }),
});

export interface ApiRoute {
  readonly operationId: string;
  readonly method: 'GET' | 'POST';
  /** API Gateway's route path: `{name}` is one segment, `{name+}` the rest of the path. */
  readonly path: string;
  readonly summary: string;
  readonly pathParameters?: z.ZodObject;
  readonly query?: z.ZodObject;
  readonly body?: z.ZodType;
  /** The success response's status and body. */
  readonly response: { readonly status: number; readonly schema: z.ZodType };
  /** Error statuses this route answers besides 401, with what each means. */
  readonly errors: Readonly<Record<number, string>>;
}

export const API_ROUTES = [
  {
    operationId: 'createUpload',
    method: 'POST',
    path: '/uploads',
    summary:
      'A presigned S3 POST for one file under incoming/<dataset>/: the form fields, the URL, the size limit and the expiry',
    body: uploadRequest,
    response: { status: 201, schema: uploadResponse },
    errors: {
      400: 'A field is missing or malformed (the error names it)',
      404: 'No such dataset',
      413: "Larger than the dataset's limit",
    },
  },
  {
    operationId: 'getFile',
    method: 'GET',
    path: '/files/{key+}',
    summary: "A file's current status, outputs, error and every attempt, from the run ledger",
    pathParameters: fileKeyPath,
    response: { status: 200, schema: fileStatus },
    errors: { 404: 'The ledger has no such file' },
  },
  {
    operationId: 'listDatasetFiles',
    method: 'GET',
    path: '/datasets/{dataset}/files',
    summary:
      "A dataset's files that reached a final status, by status and newest first within it, a page at a time",
    pathParameters: datasetFilesPath,
    query: datasetFilesQuery,
    response: { status: 200, schema: datasetFilesPage },
    errors: { 400: 'A query parameter is malformed (the error names it)' },
  },
  {
    operationId: 'getOpenApi',
    method: 'GET',
    path: '/openapi.json',
    summary: 'This document',
    response: { status: 200, schema: z.record(z.string(), z.unknown()) },
    errors: {},
  },
] as const satisfies readonly ApiRoute[];

export type OperationId = (typeof API_ROUTES)[number]['operationId'];

/** API Gateway's route key: `POST /uploads`. */
export const routeKey = (route: Pick<ApiRoute, 'method' | 'path'>): string =>
  `${route.method} ${route.path}`;

/**
 * The route a request takes and its path parameters, as API Gateway matches them: exact
 * segments, `{name}` for one decoded segment, `{name+}` greedy. Undefined for none (a method the
 * path lacks included: API Gateway answers 404 to both).
 */
export function matchRoute(
  method: string,
  path: string,
): { readonly route: ApiRoute; readonly pathParameters: Record<string, string> } | undefined {
  for (const route of API_ROUTES as readonly ApiRoute[]) {
    if (route.method !== method) continue;
    const pattern = route.path
      .replace(/[.]/g, '\\.')
      .replace(/\{(\w+)(\+?)\}/g, (_, name, greedy) => `(?<${name}>${greedy ? '.+' : '[^/]+'})`);
    const match = new RegExp(`^${pattern}$`).exec(path);
    if (!match) continue;
    const pathParameters: Record<string, string> = {};
    try {
      for (const [name, value] of Object.entries(match.groups ?? {})) {
        pathParameters[name] = decodeURIComponent(value);
      }
    } catch {
      return undefined;
    }
    return { route, pathParameters };
  }
  return undefined;
}
