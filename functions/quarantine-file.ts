import { CopyObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { s3 } from '#commons/clients/s3.ts';
import { fileTask } from '#commons/helpers/handler.ts';
import { logger } from '#commons/helpers/logger.ts';
import { type ProcessFileState, quarantineKey, recordedError } from '#commons/outcome.ts';

/**
 * Copies the original next to an `.error.json` under `quarantine/`. The upload itself stays in
 * place: nothing is lost, and a redrive can read it again.
 */
export const handler = fileTask(async (state: ProcessFileState) => {
  const { file } = state;
  const key = quarantineKey(file.key);
  await s3.send(
    new CopyObjectCommand({
      Bucket: file.bucket,
      Key: key,
      CopySource: `${file.bucket}/${file.key.split('/').map(encodeURIComponent).join('/')}`,
    }),
  );
  const error = state.error ? recordedError(state.error) : null;
  await s3.send(
    new PutObjectCommand({
      Bucket: file.bucket,
      Key: `${key}.error.json`,
      ContentType: 'application/json',
      Body: JSON.stringify({ key: file.key, versionTag: file.versionTag, error }, null, 2),
    }),
  );
  logger.info('quarantined', { quarantineKey: key, error });
  return { key };
});
