import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import {
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
import { bucketName, tableName } from '#commons/helpers/config.ts';
import { classifyError } from '#commons/helpers/handler.ts';
import { logger } from '#commons/helpers/logger.ts';
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
 * Counts the batch's children by their files' statuses, records the batch in the ledger and
 * writes `batches/<id>.json`. Both are puts of the same content, so a second run is harmless.
 */
export const handler = async (input: SummariseInput, context: Context): Promise<BatchSummary> => {
  logger.addContext(context);
  logger.appendKeys({ batchId: input.batchId });
  try {
    const details = input.results?.ResultWriterDetails;
    const entries = details ? await readResults(details.Bucket, details.Key) : [];
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
