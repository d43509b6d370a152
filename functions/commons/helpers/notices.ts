import { PublishCommand } from '@aws-sdk/client-sns';
import { sns } from '#commons/clients/sns.ts';
import type { Notice } from '#commons/notices.ts';
import { noticeTopicArn } from './config.ts';

/**
 * Publishes a notice to the stack's topic. A retried task publishes again: subscribers get a
 * notice at least once, keyed by its execution and kind for anyone who needs exactly once.
 */
export async function publishNotice(notice: Notice): Promise<void> {
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
}
