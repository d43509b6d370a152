import { describe, expect, it } from 'vitest';
import { datasetFileOf, fileStatusOf, pageToken } from '#commons/api/file-status.ts';
import { openApiDocument } from '#commons/api/openapi.ts';
import { API_ROUTES, matchRoute, routeKey, uploadRequest } from '#commons/api/routes.ts';
import { filenameProblem, planUpload, uploadKind } from '#commons/api/upload-policy.ts';
import type { LedgerItem } from '#commons/outcome.ts';

const item = (overrides: Partial<LedgerItem>): LedgerItem => ({
  pk: 'b/incoming/orders/a.csv',
  sk: 'v1#1',
  bucket: 'b',
  key: 'incoming/orders/a.csv',
  versionTag: 'v1',
  attempt: 1,
  dataset: 'orders',
  kind: 'csv',
  size: 10,
  status: 'QUARANTINED',
  statusAt: 'QUARANTINED#2026-12-03T10:00:01.000Z',
  outputs: ['quarantine/orders/a.csv'],
  summary: null,
  error: { name: 'CsvRejected', message: '1 of 2 rows are invalid' },
  executionId: 'arn:exec:1',
  receivedAt: '2026-12-03T10:00:00.000Z',
  startedAt: '2026-12-03T10:00:00.100Z',
  finishedAt: '2026-12-03T10:00:01.000Z',
  durationMs: 900,
  ...overrides,
});

describe('filenameProblem', () => {
  it.each([['orders 2026-01.csv'], ['Ünïcode façade.png'], ['a.b.c.csv']])('takes %s', (name) => {
    expect(filenameProblem(name)).toBeUndefined();
  });

  it.each([
    ['', /empty/],
    ['../x.csv', /path/],
    ['/abs.csv', /path/],
    ['a/b.csv', /path/],
    ['a\\b.csv', /path/],
    ['..', /".."/],
    ['.', /"."/],
    ['tab\there.csv', /control/],
    ['del\u007f.csv', /control/],
    [' lead.csv', /white space/],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: S3's own placeholder, literally
    ['${filename}', /fill in/],
    ['é'.repeat(128), /over 255 bytes/],
  ])('refuses %j', (name, why) => {
    expect(filenameProblem(name)).toMatch(why);
  });
});

describe('uploads', () => {
  it('knows CSVs and images by name, and nothing else', () => {
    expect(uploadKind('a.CSV')).toBe('csv');
    expect(uploadKind('a.jpeg')).toBe('image');
    expect(uploadKind('a.pdf')).toBeUndefined();
    expect(uploadKind('noextension')).toBeUndefined();
  });

  it('pins the exact key under the dataset, 1 byte to the limit, and the content type', () => {
    expect(
      planUpload({ dataset: 'orders', filename: 'a b.csv', contentType: 'text/csv', maxBytes: 99 }),
    ).toEqual({
      key: 'incoming/orders/a b.csv',
      maxBytes: 99,
      conditions: [['content-length-range', 1, 99]],
      fields: { 'Content-Type': 'text/csv' },
    });
    expect(planUpload({ dataset: 'p', filename: 'x.png', maxBytes: 5 }).fields).toEqual({});
  });

  it('names the field of the first problem in a request', () => {
    const result = uploadRequest.safeParse({ dataset: 'orders', filename: '../x', bytes: 1 });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['filename']);
  });
});

describe('routes', () => {
  it('match as API Gateway matches them, greedy keys decoded once', () => {
    const file = matchRoute('GET', '/files/incoming/orders/a%20b%2525.csv');
    expect(file && routeKey(file.route)).toBe('GET /files/{key+}');
    expect(file?.pathParameters).toEqual({ key: 'incoming/orders/a b%25.csv' });
    expect(matchRoute('GET', '/datasets/orders/files')?.pathParameters).toEqual({
      dataset: 'orders',
    });
    expect(matchRoute('GET', '/datasets/a/b/files')).toBeUndefined();
    expect(matchRoute('GET', '/uploads')).toBeUndefined();
    expect(matchRoute('GET', '/openapiXjson')).toBeUndefined();
    expect(matchRoute('GET', '/files/%E0%A4%A')).toBeUndefined();
  });

  it("describe the caller's authentication as the gateway in front is set up", () => {
    const bearer = openApiDocument('http://127.0.0.1:4601') as {
      security: object[];
      components: { securitySchemes: Record<string, { type: string }> };
    };
    expect(bearer.security).toEqual([{ bearer: [] }]);
    expect(bearer.components.securitySchemes.bearer?.type).toBe('http');
    const iam = openApiDocument('https://x.execute-api', 'sigv4') as typeof bearer;
    expect(iam.security).toEqual([{ sigv4: [] }]);
    expect(Object.keys(iam.components.securitySchemes)).toEqual(['sigv4']);
  });

  it('make an OpenAPI document of every route, its parameters and its answers', () => {
    const document = openApiDocument('https://api.example') as {
      paths: Record<string, Record<string, Record<string, unknown>>>;
    };
    for (const route of API_ROUTES) {
      const operation = document.paths[route.path.replace('+', '')]?.[route.method.toLowerCase()];
      expect(operation?.operationId).toBe(route.operationId);
      const responses = Object.keys(operation?.responses as object);
      expect(responses).toEqual(
        expect.arrayContaining([
          String(route.response.status),
          '401',
          ...Object.keys(route.errors),
        ]),
      );
    }
    const list = document.paths['/datasets/{dataset}/files']?.get as {
      parameters: { name: string; in: string; required: boolean }[];
    };
    expect(list.parameters.map((p) => `${p.in}:${p.name}:${p.required}`)).toEqual([
      'path:dataset:true',
      'query:status:false',
      'query:since:false',
      'query:limit:false',
      'query:nextToken:false',
    ]);
    const upload = document.paths['/uploads']?.post as {
      requestBody: { content: { 'application/json': { schema: { required: string[] } } } };
    };
    expect(upload.requestBody.content['application/json'].schema.required).toEqual([
      'dataset',
      'filename',
      'bytes',
    ]);
  });
});

describe('file status', () => {
  it("is the newest version's latest attempt, with every attempt and the duplicates", () => {
    const items = [
      item({}),
      item({
        sk: 'v1#2',
        attempt: 2,
        status: 'SUCCEEDED',
        error: null,
        outputs: ['validated/orders/a/report.json'],
        startedAt: '2026-12-03T11:00:00.000Z',
      }),
      item({ sk: 'v1#DUPLICATE#m', attempt: undefined, status: 'SKIPPED_DUPLICATE' }),
      item({ versionTag: 'v0', sk: 'v0#1', receivedAt: '2026-12-01T00:00:00.000Z' }),
    ];
    const view = fileStatusOf(items);
    expect(view).toMatchObject({
      versionTag: 'v1',
      status: 'SUCCEEDED',
      outputs: ['validated/orders/a/report.json'],
      error: null,
      duplicates: 1,
    });
    expect(view?.attempts.map((a) => `${a.attempt} ${a.status}`)).toEqual([
      '1 QUARANTINED',
      '2 SUCCEEDED',
    ]);
    expect(fileStatusOf([])).toBeUndefined();
  });

  it('pages with a token that round-trips, and refuses one it did not give', () => {
    const key = { pk: 'b/k', sk: 'v#1', dataset: 'orders', statusAt: 'SUCCEEDED#t' };
    const token = pageToken.encode(key);
    expect(token && pageToken.decode(token)).toEqual(key);
    expect(pageToken.encode(undefined)).toBeNull();
    expect(pageToken.decode('not a token')).toBeNull();
    expect(pageToken.decode(Buffer.from('[1]').toString('base64url'))).toBeNull();
    expect(datasetFileOf(item({})).statusAt).toBe('2026-12-03T10:00:01.000Z');
  });
});
