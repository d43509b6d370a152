import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { escapeXml, sendAwsError } from './aws-error.ts';
import { type LocalEndpoint, serveEmulator } from './endpoint.ts';
import { readJsonLines } from './json-lines.ts';

/** Where a data dir keeps the notice topic's messages. */
export const MESSAGE_LOG = join('notices', 'messages.jsonl');

/** One message published to the local topic, as `sluice alerts` lists it. */
export interface PublishedMessage {
  readonly messageId: string;
  readonly topicArn: string;
  readonly subject: string | null;
  readonly message: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly publishedAt: string;
}

/** The topic's messages: appended to a file when the stack has a data dir, else kept in memory. */
export class MessageLog {
  private readonly kept: PublishedMessage[] = [];

  /** @param path `<data-dir>/<MESSAGE_LOG>`; in memory when absent */
  constructor(private readonly path?: string) {
    if (path) mkdirSync(dirname(path), { recursive: true });
  }

  append(message: PublishedMessage): void {
    if (this.path) appendFileSync(this.path, `${JSON.stringify(message)}\n`);
    else this.kept.push(message);
  }

  list(): PublishedMessage[] {
    return this.path ? readMessages(this.path) : [...this.kept];
  }
}

/** The messages in a log file; a line a crash cut short is dropped. */
export const readMessages = (path: string): PublishedMessage[] =>
  readJsonLines<PublishedMessage>(path);

class SnsError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** `MessageAttributes.entry.N.Name` and `….Value.StringValue` → `{ name: value }`. */
function attributesOf(form: URLSearchParams): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const [name, value] of form) {
    const entry = /^MessageAttributes\.entry\.(\d+)\.Name$/.exec(name);
    if (!entry) continue;
    const prefix = `MessageAttributes.entry.${entry[1]}.Value.`;
    attributes[value] = form.get(`${prefix}StringValue`) ?? form.get(`${prefix}BinaryValue`) ?? '';
  }
  return attributes;
}

/**
 * The part of SNS (Query protocol) that sluice uses: Publish to its one topic, plus ListTopics
 * and GetTopicAttributes so that `aws sns` finds it. Nothing is delivered onwards; every message
 * goes to the log, and `onPublish` (the service's log line).
 */
export async function startLocalSns(options: {
  readonly topicArn: string;
  readonly log: MessageLog;
  readonly onPublish?: (message: PublishedMessage) => void;
}): Promise<LocalEndpoint> {
  const { topicArn, log } = options;
  const topicOf = (form: URLSearchParams) => {
    const arn = form.get('TopicArn');
    if (arn !== topicArn) throw new SnsError('NotFound', 404, `Topic does not exist: ${arn}`);
    return arn;
  };
  const actions: Record<string, (form: URLSearchParams) => string> = {
    Publish(form) {
      const message = form.get('Message');
      if (!message) throw new SnsError('InvalidParameter', 400, 'Message is required');
      const subject = form.get('Subject');
      if (subject !== null && subject.length > 100) {
        throw new SnsError('InvalidParameter', 400, 'Subject must be at most 100 characters');
      }
      const published: PublishedMessage = {
        messageId: randomUUID(),
        topicArn: topicOf(form),
        subject,
        message,
        attributes: attributesOf(form),
        publishedAt: new Date().toISOString(),
      };
      log.append(published);
      options.onPublish?.(published);
      return `<PublishResult><MessageId>${published.messageId}</MessageId></PublishResult>`;
    },
    ListTopics: () =>
      `<ListTopicsResult><Topics><member><TopicArn>${escapeXml(topicArn)}</TopicArn></member></Topics></ListTopicsResult>`,
    GetTopicAttributes(form) {
      topicOf(form);
      return `<GetTopicAttributesResult><Attributes><entry><key>TopicArn</key><value>${escapeXml(topicArn)}</value></entry></Attributes></GetTopicAttributesResult>`;
    },
  };
  const server = createServer(async (request, response) => {
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const action = form.get('Action') ?? '';
      const run = actions[action];
      if (!run) {
        throw new SnsError(
          'InvalidAction',
          400,
          `${action || 'This action'} is not supported by the local SNS`,
        );
      }
      const body = `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="http://sns.amazonaws.com/doc/2010-03-31/">${run(form)}<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`;
      response.writeHead(200, {
        'content-type': 'text/xml',
        'content-length': Buffer.byteLength(body),
      });
      response.end(body);
    } catch (error) {
      if (response.destroyed || request.socket.destroyed) return;
      const known = error instanceof SnsError;
      sendAwsError(
        response,
        known ? error.status : 500,
        'xml',
        known ? error.code : 'InternalError',
        (error as Error).message,
      );
    }
  });
  return serveEmulator(server, async () => {});
}
