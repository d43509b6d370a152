import { extname } from 'node:path';
import type { Readable } from 'node:stream';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { s3 } from '#commons/clients/s3.ts';
import { VARIANTS_PREFIX } from '#commons/constants.ts';
import { type FileTaskInput, fileTask } from '#commons/helpers/handler.ts';
import { logger } from '#commons/helpers/logger.ts';
import {
  type ImageConfig,
  ImageTooLarge,
  resizeImage,
  type VariantGroup,
} from '#commons/image/index.ts';
import type { ImageGroupResult } from '#commons/outcome.ts';

interface ResizeGroupInput extends FileTaskInput {
  readonly config: ImageConfig;
  readonly group: VariantGroup;
}

/** One Map branch: decode the upload once, make every variant of the group, store them. */
export const handler = fileTask(async ({ file, config, group }: ResizeGroupInput) => {
  // The byte limit is checked on the response's headers, before the body is read, so a huge
  // upload is never downloaded: one request instead of a HEAD and then a GET.
  const object = await s3.send(new GetObjectCommand({ Bucket: file.bucket, Key: file.key }));
  if ((object.ContentLength ?? 0) > config.maxBytes) {
    (object.Body as Readable | undefined)?.destroy();
    throw new ImageTooLarge(
      `${file.key} is ${object.ContentLength} bytes; the limit is ${config.maxBytes} bytes`,
    );
  }
  const input = Buffer.from((await object.Body?.transformToByteArray()) ?? []);
  const result = await resizeImage(input, group.variants, {
    ...config,
    declaredExtension: extname(file.key),
  });
  const prefix = `${VARIANTS_PREFIX}${file.dataset}/${file.name}/`;
  const variants = await Promise.all(
    result.variants.map(async ({ data, name, extension, format, width, height, bytes }) => {
      const key = `${prefix}${name}.${extension}`;
      await s3.send(
        new PutObjectCommand({
          Bucket: file.bucket,
          Key: key,
          Body: data,
          ContentType: `image/${format}`,
        }),
      );
      return { key, format, width, height, bytes };
    }),
  );
  if (result.source.extensionMismatch) {
    logger.warn('extension does not match the file type', { detected: result.source.detectedType });
  }
  const { width, height, format, orientation, detectedType, extensionMismatch } = result.source;
  const output: ImageGroupResult = {
    group: group.name,
    source: { width, height, format, orientation, detectedType, extensionMismatch },
    variants,
  };
  return output;
});
