import { dynamodb } from '#commons/clients/dynamodb.ts';
import { tableName } from '#commons/helpers/config.ts';
import { fileTask } from '#commons/helpers/handler.ts';
import { logger } from '#commons/helpers/logger.ts';
import { finalOutcome, type ProcessFileState } from '#commons/outcome.ts';
import { RunLedger } from '#commons/run-ledger.ts';

const ledger = new RunLedger(dynamodb, tableName());

/**
 * Records the final ledger item of a file, success or failure (QUARANTINED once its copy is
 * safe), and hands its aggregate record to the next state. Both RecordResult and RecordFailure
 * run it: the outcome is derived from the state, not from which path reached it.
 */
export const handler = fileTask(async (state: ProcessFileState) => {
  const { item, aggregate } = finalOutcome(state, new Date());
  await ledger.record(item);
  logger.info('recorded', { status: item.status, outputs: item.outputs.length });
  return { status: item.status, aggregate };
});
