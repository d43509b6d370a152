import { z } from 'zod';
import { API_ROUTES, type ApiRoute, apiError } from './routes.ts';

/** JSON Schema of a zod schema, as OpenAPI 3.1 takes it (JSON Schema 2020-12). */
const schemaOf = (schema: z.ZodType) =>
  z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' });

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: schemaOf(apiError) } },
});

function parametersOf(route: ApiRoute): unknown[] {
  const parameters: unknown[] = [];
  for (const [where, object] of [
    ['path', route.pathParameters],
    ['query', route.query],
  ] as const) {
    if (!object) continue;
    for (const [name, field] of Object.entries(object.shape)) {
      const schema = schemaOf(field as z.ZodType) as { description?: string };
      parameters.push({
        name,
        in: where,
        required: where === 'path' || !(field as z.ZodType).safeParse(undefined).success,
        description: schema.description,
        schema,
      });
    }
  }
  return parameters;
}

/** How callers authenticate, as the API Gateway in front of the function is set up. */
export type ApiAuth = 'bearer' | 'sigv4';

const SECURITY_SCHEMES: Record<ApiAuth, Record<string, unknown>> = {
  bearer: {
    type: 'http',
    scheme: 'bearer',
    description: "A JWT from the stack's issuer on AWS; sluice up's --api-token offline",
  },
  // OpenAPI has no SigV4 scheme; API Gateway's own exports describe it this way.
  sigv4: {
    type: 'apiKey',
    name: 'Authorization',
    in: 'header',
    'x-amazon-apigateway-authtype': 'awsSigv4',
    description: 'AWS SigV4, by a principal allowed execute-api:Invoke',
  },
};

/**
 * The API's OpenAPI 3.1 document, made from the route table so it cannot drift from what the
 * handler and API Gateway serve. A greedy `{key+}` is API Gateway's; OpenAPI names it `{key}`.
 * @param serverUrl where this API answers (the stage's URL, or `sluice up`'s)
 * @param auth how callers authenticate
 */
export function openApiDocument(
  serverUrl: string,
  auth: ApiAuth = 'bearer',
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of API_ROUTES as readonly ApiRoute[]) {
    const path = route.path.replace(/\{(\w+)\+\}/g, '{$1}');
    const responses: Record<string, unknown> = {
      [route.response.status]: {
        description: route.summary,
        content: { 'application/json': { schema: schemaOf(route.response.schema) } },
      },
      401: errorResponse('No credentials, or credentials that are not good'),
    };
    for (const [status, description] of Object.entries(route.errors)) {
      responses[status] = errorResponse(description);
    }
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = {
      operationId: route.operationId,
      summary: route.summary,
      parameters: parametersOf(route),
      ...(route.body && {
        requestBody: {
          required: true,
          content: { 'application/json': { schema: schemaOf(route.body) } },
        },
      }),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'sluice',
      version: '1',
      description:
        'Upload files to a sluice pipeline over HTTPS with a presigned S3 POST, and ask what became of them.',
    },
    servers: [{ url: serverUrl }],
    security: [{ [auth]: [] }],
    components: { securitySchemes: { [auth]: SECURITY_SCHEMES[auth] } },
    paths,
  };
}
