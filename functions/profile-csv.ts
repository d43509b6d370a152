import { s3 } from '#commons/clients/s3.ts';
import { SCHEMAS_PREFIX } from '#commons/constants.ts';
import { parseTableSchema, profileCsv } from '#commons/csv/index.ts';
import { fileTask } from '#commons/helpers/handler.ts';
import { readJsonIfExists, readObjectStream } from '#commons/helpers/s3-objects.ts';

/** Per-column statistics in one streaming pass, for the ledger summary and the aggregates. */
export const handler = fileTask(async ({ file }) => {
  const json = await readJsonIfExists(s3, file.bucket, `${SCHEMAS_PREFIX}${file.dataset}.json`);
  const schema = json === undefined ? undefined : parseTableSchema(json);
  const input = await readObjectStream(s3, file.bucket, file.key);
  return profileCsv(input, schema === undefined ? {} : { schema });
});
