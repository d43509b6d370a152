import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { z } from 'zod';
import { SluiceError } from '#commons/errors.ts';
import { logger } from '#commons/helpers/logger.ts';
import type { ApiRoute } from './routes.ts';

/** An answer other than success, with the JSON error body partners' scripts read. */
export class ApiError extends SluiceError {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export function json(status: number, body: unknown): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify(body),
  };
}

/** The first issue of a failed parse, as a 400 that names its field. */
function invalid(error: z.ZodError, where: string): ApiError {
  const issue = error.issues[0];
  const field = issue?.path.join('.') || undefined;
  const message = issue ? `${field ?? where}: ${issue.message}` : `${where} is not valid`;
  return new ApiError(400, 'InvalidRequest', message, field ?? where);
}

/** The request's parts a route declares, parsed by its schemas. */
export interface ParsedRequest {
  readonly body: unknown;
  readonly path: Record<string, unknown>;
  readonly query: Record<string, unknown>;
}

/** Parses the body, path and query of an event by the route's schemas; a 400 names the field. */
export function parseRequest(route: ApiRoute, event: APIGatewayProxyEventV2): ParsedRequest {
  let body: unknown;
  if (route.body) {
    const text = event.isBase64Encoded
      ? Buffer.from(event.body ?? '', 'base64').toString('utf8')
      : (event.body ?? '');
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw new ApiError(400, 'InvalidRequest', 'the body is not JSON', 'body');
    }
    const parsed = route.body.safeParse(raw);
    if (!parsed.success) throw invalid(parsed.error, 'body');
    body = parsed.data;
  }
  const parts = { path: {}, query: {} } as { path: object; query: object };
  for (const [part, schema, raw] of [
    ['path', route.pathParameters, event.pathParameters],
    ['query', route.query, event.queryStringParameters],
  ] as const) {
    if (!schema) continue;
    const parsed = schema.safeParse(raw ?? {});
    if (!parsed.success) throw invalid(parsed.error, part);
    parts[part] = parsed.data;
  }
  return { body, path: parts.path, query: parts.query } as ParsedRequest;
}

/**
 * Runs the operation API Gateway routed to; an `ApiError` becomes its JSON answer, anything else
 * a 500 that says no more than that (the log has the rest).
 */
export async function answer(
  run: () => Promise<APIGatewayProxyStructuredResultV2>,
): Promise<APIGatewayProxyStructuredResultV2> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof ApiError) {
      const { code, message, field } = error;
      return json(error.status, { error: { code, message, ...(field && { field }) } });
    }
    logger.error('request failed', error as Error);
    return json(500, { error: { code: 'InternalError', message: 'the request failed' } });
  }
}
