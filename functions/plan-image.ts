import { s3 } from '#commons/clients/s3.ts';
import { SCHEMAS_PREFIX } from '#commons/constants.ts';
import { fileTask } from '#commons/helpers/handler.ts';
import { readJsonIfExists } from '#commons/helpers/s3-objects.ts';
import { DEFAULT_IMAGE_CONFIG, parseImageConfig, planVariantGroups } from '#commons/image/index.ts';

/**
 * Reads `schemas/<dataset>.variants.json` (or the built-in variants) and splits it into the
 * groups the Map fans out over, so each branch decodes the source once.
 */
export const handler = fileTask(async ({ file }) => {
  const json = await readJsonIfExists(
    s3,
    file.bucket,
    `${SCHEMAS_PREFIX}${file.dataset}.variants.json`,
  );
  const config = json === undefined ? DEFAULT_IMAGE_CONFIG : parseImageConfig(json);
  return { config, groups: planVariantGroups(config) };
});
