import { S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { datasetFileOf, fileStatusOf, pageToken } from '#commons/api/file-status.ts';
import { ApiError, answer, json, parseRequest } from '#commons/api/http.ts';
import { openApiDocument } from '#commons/api/openapi.ts';
import { API_ROUTES, type OperationId, routeKey, type UploadRequest } from '#commons/api/routes.ts';
import {
  CSV_MAX_BYTES,
  planUpload,
  UPLOAD_EXPIRY_SECONDS,
  uploadKind,
} from '#commons/api/upload-policy.ts';
import { dynamodb } from '#commons/clients/dynamodb.ts';
import { s3 } from '#commons/clients/s3.ts';
import { SCHEMAS_PREFIX } from '#commons/constants.ts';
import { bucketName, tableName } from '#commons/helpers/config.ts';
import { logger } from '#commons/helpers/logger.ts';
import { readJsonIfExists } from '#commons/helpers/s3-objects.ts';
import { DEFAULT_IMAGE_CONFIG, parseImageConfig } from '#commons/image/index.ts';
import { RunLedger } from '#commons/run-ledger.ts';

/**
 * Presigns with virtual-hosted URLs on AWS, the form browsers and S3 expect; an emulator's
 * endpoint (offline) only takes path-style ones.
 */
const presigner = new S3Client({
  forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL),
});

/** The dataset's upload limit for this kind of file, from the configuration it already has. */
async function uploadLimit(dataset: string, filename: string): Promise<number> {
  const kind = uploadKind(filename);
  if (!kind) {
    throw new ApiError(
      400,
      'UnsupportedFileType',
      'filename: sluice takes CSV files (.csv) and images (.jpg, .jpeg, .png, .webp, .gif, .tif, .tiff, .avif, .heic, .heif)',
      'filename',
    );
  }
  const [schema, variants] = await Promise.all([
    readJsonIfExists(s3, bucketName(), `${SCHEMAS_PREFIX}${dataset}.json`),
    readJsonIfExists(s3, bucketName(), `${SCHEMAS_PREFIX}${dataset}.variants.json`),
  ]);
  if (schema === undefined && variants === undefined) {
    throw new ApiError(
      404,
      'UnknownDataset',
      `dataset: '${dataset}' has no ${SCHEMAS_PREFIX}${dataset}.json or ${dataset}.variants.json`,
      'dataset',
    );
  }
  if (kind === 'csv') return CSV_MAX_BYTES;
  return (variants === undefined ? DEFAULT_IMAGE_CONFIG : parseImageConfig(variants)).maxBytes;
}

async function createUpload(request: UploadRequest): Promise<APIGatewayProxyStructuredResultV2> {
  const maxBytes = await uploadLimit(request.dataset, request.filename);
  if (request.bytes > maxBytes) {
    throw new ApiError(
      413,
      'TooLarge',
      `bytes: ${request.bytes} is over the dataset's limit of ${maxBytes}`,
      'bytes',
    );
  }
  const plan = planUpload({ ...request, maxBytes });
  const post = await createPresignedPost(presigner, {
    Bucket: bucketName(),
    Key: plan.key,
    Conditions: plan.conditions as never,
    Fields: { ...plan.fields },
    Expires: UPLOAD_EXPIRY_SECONDS,
  });
  logger.info('upload presigned', { key: plan.key, bytes: request.bytes });
  return json(201, {
    key: plan.key,
    url: post.url,
    fields: post.fields,
    maxBytes,
    expiresAt: new Date(Date.now() + UPLOAD_EXPIRY_SECONDS * 1000).toISOString(),
  });
}

const ledger = () => new RunLedger(dynamodb, tableName());

const OPERATIONS: Record<
  OperationId,
  (
    request: ReturnType<typeof parseRequest>,
    event: APIGatewayProxyEventV2,
  ) => Promise<APIGatewayProxyStructuredResultV2>
> = {
  createUpload: ({ body }) => createUpload(body as UploadRequest),

  async getFile({ path }) {
    const status = fileStatusOf(await ledger().history(bucketName(), String(path.key)));
    if (!status) throw new ApiError(404, 'NotFound', `the ledger has no file '${path.key}'`, 'key');
    return json(200, status);
  },

  async listDatasetFiles({ path, query }) {
    const { status, since, limit, nextToken } = query as {
      status?: string;
      since?: string;
      limit: number;
      nextToken?: string;
    };
    const startKey = nextToken === undefined ? undefined : pageToken.decode(nextToken);
    if (startKey === null) {
      throw new ApiError(
        400,
        'InvalidRequest',
        'nextToken: not a token this API gave',
        'nextToken',
      );
    }
    const page = await ledger().datasetPage(String(path.dataset), {
      status,
      since: since && new Date(since).toISOString(),
      limit,
      startKey,
    });
    return json(200, {
      items: page.items.map(datasetFileOf),
      nextToken: pageToken.encode(page.lastKey),
    });
  },

  async getOpenApi(_request, event) {
    const { domainName, stage } = event.requestContext;
    const scheme = event.headers['x-forwarded-proto'] ?? 'https';
    const base = `${scheme}://${domainName}${stage === '$default' ? '' : `/${stage}`}`;
    // An IAM-authorized route's request carries the caller's identity under `iam`.
    const authorizer = (event.requestContext as { authorizer?: { iam?: unknown } }).authorizer;
    return json(200, openApiDocument(base, authorizer?.iam ? 'sigv4' : 'bearer'));
  },
};

/**
 * The HTTP API's one function: API Gateway has matched the route and checked the caller, so this
 * parses the request by the route's schemas and runs its operation.
 */
export const handler = (
  event: APIGatewayProxyEventV2,
): Promise<APIGatewayProxyStructuredResultV2> =>
  answer(async () => {
    const route = API_ROUTES.find((candidate) => routeKey(candidate) === event.routeKey);
    if (!route) throw new ApiError(404, 'NotFound', `no route ${event.routeKey}`);
    return OPERATIONS[route.operationId](parseRequest(route, event), event);
  });
