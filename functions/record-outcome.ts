import { dynamodb } from '#commons/clients/dynamodb.ts';
import { tableName } from '#commons/helpers/config.ts';
import { fileTask } from '#commons/helpers/handler.ts';
import { logger } from '#commons/helpers/logger.ts';
import { publishFileMetrics } from '#commons/helpers/metrics.ts';
import { publishNotice } from '#commons/helpers/notices.ts';
import { fileNotice } from '#commons/notices.ts';
import { finalOutcome, type ProcessFileState } from '#commons/outcome.ts';
import { RunLedger } from '#commons/run-ledger.ts';

const ledger = new RunLedger(dynamodb, tableName());

function variantBytesOf(state: ProcessFileState): number | undefined {
  return state.image?.reduce(
    (total, group) => group.variants.reduce((sum, variant) => sum + variant.bytes, total),
    0,
  );
}

/**
 * Records the final ledger item of a file, success or failure (QUARANTINED once its copy is
 * safe), and hands its aggregate record to the next state. Both RecordResult and RecordFailure
 * run it: the outcome is derived from the state, not from which path reached it. It is the one
 * place that knows a file's final outcome, so it emits the per-file metrics, after the ledger
 * write: a write that fails is retried by the ASL, and only the attempt that records counts.
 * A file that failed or was quarantined also publishes its notice to the topic.
 */
export const handler = fileTask(async (state: ProcessFileState) => {
  const { item, aggregate } = finalOutcome(state, new Date());
  await ledger.record(item);
  publishFileMetrics(aggregate, { variantBytes: variantBytesOf(state) });
  const notice = fileNotice(item);
  if (notice) await publishNotice(notice);
  logger.info('recorded', { status: item.status, outputs: item.outputs.length });
  return { status: item.status, aggregate };
});
