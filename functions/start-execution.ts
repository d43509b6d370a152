import { ExecutionAlreadyExists, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type {
  Context,
  S3ObjectCreatedNotificationEvent,
  SQSBatchResponse,
  SQSEvent,
} from 'aws-lambda';
import { dynamodb } from '#commons/clients/dynamodb.ts';
import { sfn } from '#commons/clients/sfn.ts';
import { attemptExecutionName, fileRefFromEvent } from '#commons/file-ref.ts';
import { stateMachineArn, tableName } from '#commons/helpers/config.ts';
import { logger } from '#commons/helpers/logger.ts';
import { RunLedger } from '#commons/run-ledger.ts';
import type { ProcessFileInput } from '#commons/types.ts';

const ledger = new RunLedger(dynamodb, tableName());

async function start(event: S3ObjectCreatedNotificationEvent): Promise<void> {
  const file = fileRefFromEvent(event);
  if (!file) {
    logger.info('ignored: not an upload under incoming/', { key: event.detail.object.key });
    return;
  }
  const name = attemptExecutionName(file, 1);
  const executionId = `${stateMachineArn().replace(':stateMachine:', ':execution:')}:${name}`;
  logger.appendKeys({ executionId, key: file.key, dataset: file.dataset });
  try {
    const input: ProcessFileInput = { file, attempt: 1 };
    await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: stateMachineArn(),
        name,
        input: JSON.stringify(input),
      }),
    );
    logger.info('execution started', { kind: file.kind, size: file.size });
  } catch (error) {
    if (
      !(
        error instanceof ExecutionAlreadyExists ||
        (error as Error).name === 'ExecutionAlreadyExists'
      )
    ) {
      throw error;
    }
    await ledger.recordDuplicate(file, event.id, executionId, new Date());
    logger.info('skipped: this file version already has an execution');
  } finally {
    logger.resetKeys();
  }
}

/** SQS batch of EventBridge "Object Created" events; failed records go back to the queue. */
export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  logger.addContext(context);
  const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
  for (const record of event.Records) {
    try {
      await start(JSON.parse(record.body) as S3ObjectCreatedNotificationEvent);
    } catch (error) {
      logger.error('could not start an execution', { messageId: record.messageId, error });
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures };
};
