import type { Context } from 'aws-lambda';
import type { BatchMode } from '#commons/batch.ts';
import {
  type BatchItemPlan,
  executionRunning,
  type ListedObject,
  planBatchItem,
} from '#commons/batch-plan.ts';
import { dynamodb } from '#commons/clients/dynamodb.ts';
import { sfn } from '#commons/clients/sfn.ts';
import { tableName } from '#commons/helpers/config.ts';
import { classifyError } from '#commons/helpers/handler.ts';
import { logger } from '#commons/helpers/logger.ts';
import { RunLedger } from '#commons/run-ledger.ts';

const ledger = new RunLedger(dynamodb, tableName());

/** One Distributed Map item: the listed object and the batch it belongs to. */
interface BatchItemInput {
  readonly object: ListedObject;
  readonly bucket: string;
  readonly batchId: string;
  readonly mode: BatchMode;
}

const isRunning = executionRunning(sfn);

/** Reads the version's attempts in the ledger and decides whether the batch processes it. */
export const handler = async (input: BatchItemInput, context: Context): Promise<BatchItemPlan> => {
  logger.addContext(context);
  logger.appendKeys({ batchId: input.batchId, key: input.object.Key });
  try {
    const items = await ledger.history(input.bucket, input.object.Key);
    const plan = await planBatchItem(input.object, input, items, isRunning);
    logger.info('planned', { action: plan.action, reason: plan.reason, attempt: plan.attempt });
    return plan;
  } catch (error) {
    const classified = classifyError(error);
    logger.error('could not plan the item', classified as Error);
    throw classified;
  } finally {
    logger.resetKeys();
  }
};
