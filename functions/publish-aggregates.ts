import { kinesis } from '#commons/clients/kinesis.ts';
import { streamName } from '#commons/helpers/config.ts';
import { type FileTaskInput, fileTask } from '#commons/helpers/handler.ts';
import { logger } from '#commons/helpers/logger.ts';
import { putAllRecords } from '#commons/helpers/put-records.ts';
import type { AggregateRecord } from '#commons/types.ts';

interface PublishInput extends FileTaskInput {
  readonly aggregate: AggregateRecord;
}

/**
 * Puts the file's aggregate record on the stream, newline-terminated: Firehose concatenates
 * records with no delimiter, and the landed objects must stay newline-delimited JSON. A retry
 * may land a second copy (the first put's answer was lost); readers drop it by `recordId`.
 */
export const handler = fileTask(async ({ aggregate }: PublishInput) => {
  await putAllRecords(kinesis, streamName(), [
    {
      Data: new TextEncoder().encode(`${JSON.stringify(aggregate)}\n`),
      PartitionKey: aggregate.dataset,
    },
  ]);
  logger.info('aggregate published', { outcome: aggregate.outcome });
});
