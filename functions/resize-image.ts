import { extname } from 'node:path';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { s3 } from '#commons/clients/s3.ts';
import { VARIANTS_PREFIX } from '#commons/constants.ts';
import { type FileTaskInput, fileTask } from '#commons/helpers/handler.ts';
import { logger } from '#commons/helpers/logger.ts';
import { readObjectBytes } from '#commons/helpers/s3-objects.ts';
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
  // The byte limit is checked on the header first, so a huge upload is never downloaded.
  const head = await s3.send(new HeadObjectCommand({ Bucket: file.bucket, Key: file.key }));
  if ((head.ContentLength ?? 0) > config.maxBytes) {
    throw new ImageTooLarge(
      `${file.key} is ${head.ContentLength} bytes; the limit is ${config.maxBytes} bytes`,
    );
  }
  const input = await readObjectBytes(s3, file.bucket, file.key);
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
