import type { IncomingMessage } from 'node:http';

/**
 * The S3 operation a REST request is, by its method, path and subresources: the name a rule's
 * `operation` matches. Path-style only, which is what the emulator serves (the edge rewrites
 * virtual-hosted requests before they arrive).
 */
export function s3Operation(request: IncomingMessage): string {
  const url = new URL(request.url ?? '/', 'http://s3');
  const [, bucket = '', ...rest] = url.pathname.split('/');
  const hasKey = rest.join('/') !== '';
  const query = url.searchParams;
  const method = request.method ?? 'GET';
  if (bucket === '') return 'ListBuckets';
  if (query.has('uploadId')) {
    if (method === 'PUT')
      return request.headers['x-amz-copy-source'] ? 'UploadPartCopy' : 'UploadPart';
    if (method === 'POST') return 'CompleteMultipartUpload';
    if (method === 'DELETE') return 'AbortMultipartUpload';
    return 'ListParts';
  }
  if (query.has('uploads'))
    return method === 'POST' ? 'CreateMultipartUpload' : 'ListMultipartUploads';
  if (query.has('delete') && method === 'POST') return 'DeleteObjects';
  for (const sub of ['tagging', 'acl', 'cors', 'policy', 'versioning', 'website', 'location']) {
    if (!query.has(sub)) continue;
    const noun = sub === 'location' ? 'Location' : sub[0]?.toUpperCase() + sub.slice(1);
    const scope = hasKey ? 'Object' : 'Bucket';
    const verb = method === 'PUT' ? 'Put' : method === 'DELETE' ? 'Delete' : 'Get';
    return `${verb}${scope}${noun}`;
  }
  if (!hasKey) {
    // A browser form's upload goes to the bucket itself.
    if (method === 'POST') return 'PostObject';
    if (method === 'PUT') return 'CreateBucket';
    if (method === 'DELETE') return 'DeleteBucket';
    if (method === 'HEAD') return 'HeadBucket';
    return query.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects';
  }
  if (method === 'PUT') return request.headers['x-amz-copy-source'] ? 'CopyObject' : 'PutObject';
  if (method === 'HEAD') return 'HeadObject';
  if (method === 'DELETE') return 'DeleteObject';
  if (method === 'POST') return 'PostObject';
  return 'GetObject';
}

/** The operation of a JSON-protocol request: `X-Amz-Target: <Service>.<Operation>`. */
export function jsonOperation(request: IncomingMessage): string {
  return String(request.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
}

/**
 * The operation of a Query-protocol request (SNS): the `Action` field of its form-encoded body,
 * which the layer has to read first (see `FaultLayer.wrapServer`).
 */
export function queryOperation(body: Buffer): string {
  return new URLSearchParams(body.toString('utf8')).get('Action') ?? '';
}
