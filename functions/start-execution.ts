import {
  BatchProcessor,
  EventType,
  type ParsedRecord,
  processPartialResponse,
} from '@aws-lambda-powertools/batch';
import { parser } from '@aws-lambda-powertools/batch/parser';
import { S3EventNotificationEventBridgeSchema } from '@aws-lambda-powertools/parser/schemas/s3';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { z } from 'zod';
import { dynamodb } from '#commons/clients/dynamodb.ts';
import { sfn } from '#commons/clients/sfn.ts';
import { attemptExecutionName, fileRefFromEvent } from '#commons/file-ref.ts';
import { stateMachineArn, tableName } from '#commons/helpers/config.ts';
import { logger } from '#commons/helpers/logger.ts';
import { RunLedger } from '#commons/run-ledger.ts';
import type { ProcessFileInput } from '#commons/types.ts';

const ledger = new RunLedger(dynamodb, tableName());

const { detail } = S3EventNotificationEventBridgeSchema.shape;

/** EventBridge's "Object Created" event from S3, with what a created object always has. */
const ObjectCreatedSchema = S3EventNotificationEventBridgeSchema.extend({
  'detail-type': z.literal('Object Created'),
  detail: detail.extend({
    object: detail.shape.object.extend({ size: z.number().nonnegative(), etag: z.string() }),
  }),
});
type ObjectCreated = z.infer<typeof ObjectCreatedSchema>;

const isAlreadyExists = (error: unknown) =>
  error instanceof ExecutionAlreadyExists || (error as Error).name === 'ExecutionAlreadyExists';

/**
 * Starts the version's execution, named after the version so that a second start cannot make a
 * second one. The input carries the SQS message id: when the name exists, it tells this
 * message's own earlier start (its answer lost, then retried by the SDK or redelivered by the
 * queue) from another delivery of the same upload, which is a duplicate.
 */
async function start(event: ObjectCreated, messageId: string): Promise<void> {
  const file = fileRefFromEvent(event);
  if (!file) {
    logger.info('ignored: not an upload under incoming/', { key: event.detail.object.key });
    return;
  }
  const name = attemptExecutionName(file, 1);
  const executionArn = `${stateMachineArn().replace(':stateMachine:', ':execution:')}:${name}`;
  const keys = { executionId: executionArn, key: file.key, dataset: file.dataset, messageId };
  const input: ProcessFileInput = { file, attempt: 1, messageId };
  try {
    await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: stateMachineArn(),
        name,
        input: JSON.stringify(input),
      }),
    );
    logger.info('execution started', { ...keys, kind: file.kind, size: file.size });
    return;
  } catch (error) {
    if (!isAlreadyExists(error)) throw error;
  }
  const existing = await sfn.send(new DescribeExecutionCommand({ executionArn }));
  const startedBy = (JSON.parse(existing.input ?? '{}') as Partial<ProcessFileInput>).messageId;
  if (startedBy === messageId) {
    logger.info('already started by this message', keys);
    return;
  }
  await ledger.recordDuplicate(file, messageId, executionArn, new Date());
  logger.info('skipped: this file version already has an execution', keys);
}

const processor = new BatchProcessor(EventType.SQS, {
  parser,
  innerSchema: ObjectCreatedSchema,
  transformer: 'json',
  logger,
});

/**
 * SQS batch of EventBridge "Object Created" events. Each record is parsed and started on its
 * own; a record that is malformed or fails goes back to the queue alone, and is logged.
 */
export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  logger.addContext(context);
  const response = await processPartialResponse(
    event,
    (record: ParsedRecord<SQSRecord, ObjectCreated>) => start(record.body, record.messageId),
    processor,
    { context, throwOnFullBatchFailure: false },
  );
  processor.failureMessages.forEach((record, index) => {
    logger.error('could not start an execution', {
      messageId: (record as SQSRecord).messageId,
      error: processor.errors[index],
    });
  });
  return response;
};
