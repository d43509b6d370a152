import { PublishCommand } from '@aws-sdk/client-sns';
import { sns } from '#commons/clients/sns.ts';
import { TransientError } from '#commons/errors.ts';
import type { Notice } from '#commons/notices.ts';
import { noticeTopicArn } from './config.ts';
import { classifyError } from './handler.ts';
import { logger } from './logger.ts';

/**
 * Publishes a notice to the stack's topic. A transient failure throws, so the ASL retries the
 * task, and subscribers get a notice at least once. Any other failure (a deleted topic, a
 * missing grant) is logged as an error and the file's outcome stands: the ledger item is already
 * written, and a notice must not turn a quarantined file into a failed one.
 */
export async function publishNotice(notice: Notice): Promise<void> {
  try {
    await sns.send(
      new PublishCommand({
        TopicArn: noticeTopicArn(),
        Subject: notice.subject,
        Message: JSON.stringify(notice.body),
        MessageAttributes: {
          kind: { DataType: 'String', StringValue: notice.kind },
          ...(notice.body.dataset === null
            ? {}
            : { dataset: { DataType: 'String', StringValue: notice.body.dataset } }),
        },
      }),
    );
  } catch (error) {
    const classified = classifyError(error);
    if (classified instanceof TransientError) throw classified;
    logger.error('notice not published', { notice: notice.body, error: classified as Error });
  }
}
