import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { ListMapRunsCommand } from '@aws-sdk/client-sfn';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import {
  BATCH_RESULTS_PREFIX,
  type BatchSummary,
  batchLedgerKey,
  batchLedgerSortKey,
  countResults,
  type MapResultEntry,
  type ProcessBatchInput,
  summaryKeyOf,
  TOLERATED_FAILURE_PERCENTAGE,
} from '#commons/batch.ts';
import { dynamodb } from '#commons/clients/dynamodb.ts';
import { s3 } from '#commons/clients/s3.ts';
import { sfn } from '#commons/clients/sfn.ts';
import { bucketName, tableName } from '#commons/helpers/config.ts';
import { classifyError } from '#commons/helpers/handler.ts';
import { logger } from '#commons/helpers/logger.ts';
import { publishBatchMetrics } from '#commons/helpers/metrics.ts';
import { publishNotice } from '#commons/helpers/notices.ts';
import { batchNotice } from '#commons/notices.ts';
import type { CaughtError } from '#commons/types.ts';

interface SummariseInput extends ProcessBatchInput {
  readonly executionId: string;
  readonly startedAt: string;
  /** The Distributed Map's output, with its ResultWriter's manifest. */
  readonly results?: {
    readonly ResultWriterDetails: { readonly Bucket: string; readonly Key: string };
  };
  /** The Map's error, when more children failed than it tolerates. */
  readonly failure?: CaughtError;
}

interface Manifest {
  readonly ResultFiles: Readonly<Record<string, readonly { readonly Key: string }[]>>;
}

async function readJson<T>(bucket: string, key: string): Promise<T> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return JSON.parse((await object.Body?.transformToString()) ?? 'null') as T;
}

/** Every child's entry, from the manifest's result files. */
async function readResults(bucket: string, manifestKey: string): Promise<MapResultEntry[]> {
  const manifest = await readJson<Manifest>(bucket, manifestKey);
  const entries: MapResultEntry[] = [];
  for (const files of Object.values(manifest.ResultFiles)) {
    for (const file of files) entries.push(...(await readJson<MapResultEntry[]>(bucket, file.Key)));
  }
  return entries;
}

/**
 * Where the results are: the Map's output says, unless it stopped past its tolerated failures;
 * then its Map Run names the folder (`<prefix><map run id>/`) that the results still went to.
 */
async function manifestOf(
  input: SummariseInput,
): Promise<{ Bucket: string; Key: string } | undefined> {
  if (input.results) return input.results.ResultWriterDetails;
  const { mapRuns } = await sfn.send(new ListMapRunsCommand({ executionArn: input.executionId }));
  const id = mapRuns?.[0]?.mapRunArn?.split(':').pop();
  return id
    ? { Bucket: bucketName(), Key: `${BATCH_RESULTS_PREFIX}${id}/manifest.json` }
    : undefined;
}

async function readAllResults(input: SummariseInput): Promise<MapResultEntry[]> {
  const manifest = await manifestOf(input);
  if (!manifest) return [];
  try {
    return await readResults(manifest.Bucket, manifest.Key);
  } catch (error) {
    // A Map that failed before it wrote anything.
    if (!input.results && (error as Error).name === 'NoSuchKey') return [];
    throw error;
  }
}

/**
 * Counts the batch's children by their files' statuses, records the batch in the ledger and
 * writes `batches/<id>.json`. Both are puts of the same content, so a second run is harmless.
 * A batch past its tolerance also publishes its notice to the topic.
 */
export const handler = async (input: SummariseInput, context: Context): Promise<BatchSummary> => {
  logger.addContext(context);
  logger.appendKeys({ batchId: input.batchId });
  try {
    const entries = await readAllResults(input);
    const { counts, failed } = countResults(entries);
    const files = entries.length;
    const failurePercentage = files === 0 ? 0 : Math.round((failed / files) * 10000) / 100;
    const summary: BatchSummary = {
      batchId: input.batchId,
      prefix: input.prefix,
      mode: input.mode,
      schedule: input.schedule,
      files,
      counts,
      failurePercentage,
      exceeded: input.failure !== undefined || failurePercentage > TOLERATED_FAILURE_PERCENTAGE,
      startDate: input.startedAt,
      stopDate: new Date().toISOString(),
      summaryKey: summaryKeyOf(input.batchId),
      executionArn: input.executionId,
      ...(input.failure
        ? { error: { name: input.failure.Error, message: input.failure.Cause ?? '' } }
        : {}),
    };
    await s3.send(
      new PutObjectCommand({
        Bucket: bucketName(),
        Key: summary.summaryKey,
        ContentType: 'application/json',
        Body: `${JSON.stringify(summary, null, 2)}\n`,
      }),
    );
    await dynamodb.send(
      new PutCommand({
        TableName: tableName(),
        Item: {
          pk: batchLedgerKey(input.schedule),
          sk: batchLedgerSortKey(input.startedAt, input.batchId),
          ...summary,
        },
      }),
    );
    publishBatchMetrics(summary);
    const notice = batchNotice(summary);
    if (notice) await publishNotice(notice);
    logger.info('batch summarised', { files, counts, exceeded: summary.exceeded });
    return summary;
  } catch (error) {
    const classified = classifyError(error);
    logger.error('could not summarise the batch', classified as Error);
    throw classified;
  } finally {
    logger.resetKeys();
  }
};
