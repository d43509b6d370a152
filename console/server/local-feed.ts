import type { LocalStack } from '../../local/stack/stack.ts';
import type { ConsoleFeed } from './console-server.ts';

/** The object key an upload event names; null when the body is not an S3 event. */
function keyOf(body: string): string | null {
  try {
    const key = (JSON.parse(body) as { detail?: { object?: { key?: unknown } } }).detail?.object
      ?.key;
    return typeof key === 'string' ? key : null;
  } catch {
    return null;
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

/** A local stack's feed: its Step Functions' status changes, and its queue read in memory. */
export function localFeed(stack: Pick<LocalStack, 'stepFunctions' | 'queue'>): ConsoleFeed {
  return {
    watchExecutions: (watcher) =>
      stack.stepFunctions.watch((record) =>
        watcher({
          executionArn: record.executionArn,
          stateMachineArn: record.stateMachineArn,
          status: record.status,
          input: record.input,
          startDate: record.startDate,
        }),
      ),
    uploadPath: () => ({
      waiting: stack.queue.pending.map((message) => ({
        messageId: message.messageId,
        key: keyOf(message.body),
        sentAt: iso(message.sentAt),
        receiveCount: message.receiveCount,
      })),
      deadLetters: stack.queue.deadLetters.map((letter) => ({
        messageId: letter.messageId,
        key: keyOf(letter.body),
        sentAt: iso(letter.sentAt),
        receiveCount: letter.receiveCount,
        error: letter.error,
        movedAt: iso(letter.movedAt),
      })),
    }),
  };
}
