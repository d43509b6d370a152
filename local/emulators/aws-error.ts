import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';

/** The wire shape of an error: XML (S3, Query) or the JSON protocols' `__type`. */
export type Protocol = 'xml' | 'json';

/** Text safe inside an XML element. */
export const escapeXml = (text: string): string =>
  text.replace(/[<>&]/g, (c) => `&#${c.charCodeAt(0)};`);

/** An error in the shape AWS's SDKs parse: S3's XML, the JSON protocols' `__type`, or Query XML. */
export function sendAwsError(
  response: ServerResponse,
  status: number,
  protocol: Protocol,
  code: string,
  message: string,
  options: { s3?: boolean } = {},
): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const requestId = randomUUID();
  let body: string;
  let type: string;
  if (protocol === 'json') {
    type = 'application/x-amz-json-1.0';
    body = JSON.stringify({ __type: code, message });
  } else if (options.s3) {
    type = 'application/xml';
    body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message><RequestId>${requestId}</RequestId></Error>`;
  } else {
    type = 'text/xml';
    body = `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error><Type>Sender</Type><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
  }
  response.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'x-amzn-requestid': requestId,
    'x-amz-request-id': requestId,
    'x-amzn-errortype': code,
  });
  response.end(body);
}
