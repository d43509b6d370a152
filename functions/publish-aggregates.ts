import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { kinesis } from '#commons/clients/kinesis.ts';
import { TransientError } from '#commons/errors.ts';
import { streamName } from '#commons/helpers/config.ts';
import { type FileTaskInput, fileTask } from '#commons/helpers/handler.ts';
import { logger } from '#commons/helpers/logger.ts';
import type { AggregateRecord } from '#commons/types.ts';

interface PublishInput extends FileTaskInput {
  readonly aggregate: AggregateRecord;
}

/**
 * Puts the file's aggregate record on the stream, newline-terminated: Firehose concatenates
 * records with no delimiter, and the landed objects must stay newline-delimited JSON.
 */
export const handler = fileTask(async ({ aggregate }: PublishInput) => {
  const response = await kinesis.send(
    new PutRecordsCommand({
      StreamName: streamName(),
      Records: [
        {
          Data: new TextEncoder().encode(`${JSON.stringify(aggregate)}\n`),
          PartitionKey: aggregate.dataset,
        },
      ],
    }),
  );
  if (response.FailedRecordCount) {
    throw new TransientError(
      `Kinesis refused ${response.FailedRecordCount} record(s): ${response.Records?.[0]?.ErrorCode}`,
    );
  }
  logger.info('aggregate published', { outcome: aggregate.outcome });
});
