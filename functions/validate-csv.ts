import { PutObjectCommand } from '@aws-sdk/client-s3';
import { s3 } from '#commons/clients/s3.ts';
import { SCHEMAS_PREFIX, VALIDATED_PREFIX } from '#commons/constants.ts';
import { parseTableSchema, summarizeCsvReport, validateCsv } from '#commons/csv/index.ts';
import { fileTask } from '#commons/helpers/handler.ts';
import { logger } from '#commons/helpers/logger.ts';
import {
  readJsonIfExists,
  readObjectStream,
  writeObjectStream,
} from '#commons/helpers/s3-objects.ts';
import type { CsvResult } from '#commons/outcome.ts';

/**
 * Streams the upload through the validation engine against `schemas/<dataset>.json` (structure
 * only when there is none), writing valid.csv and invalid.csv as multipart uploads and the report
 * beside them. Returns counts, never rows.
 */
export const handler = fileTask(async ({ file }): Promise<CsvResult['validation']> => {
  const json = await readJsonIfExists(s3, file.bucket, `${SCHEMAS_PREFIX}${file.dataset}.json`);
  const schema = json === undefined ? undefined : parseTableSchema(json);
  const prefix = `${VALIDATED_PREFIX}${file.dataset}/${file.name}/`;
  const keys = {
    report: `${prefix}report.json`,
    valid: `${prefix}valid.csv`,
    invalid: `${prefix}invalid.csv`,
  };
  const valid = writeObjectStream(s3, file.bucket, keys.valid, 'text/csv');
  const invalid = writeObjectStream(s3, file.bucket, keys.invalid, 'text/csv');
  try {
    const input = await readObjectStream(s3, file.bucket, file.key);
    const report = await validateCsv(input, schema, {
      valid: valid.stream,
      invalid: invalid.stream,
    });
    await Promise.all([valid.done, invalid.done]);
    await s3.send(
      new PutObjectCommand({
        Bucket: file.bucket,
        Key: keys.report,
        ContentType: 'application/json',
        Body: JSON.stringify(report, null, 2),
      }),
    );
    const summary = summarizeCsvReport(report);
    logger.info('validated', { ...summary, schema: schema !== undefined });
    return { ...summary, reportKey: keys.report, outputs: [keys.report, keys.valid, keys.invalid] };
  } catch (error) {
    // Half-written outputs of a file that could not be read would mislead: drop them.
    await Promise.allSettled([valid.abort(), invalid.abort()]);
    throw error;
  }
});
