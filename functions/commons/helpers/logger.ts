import { Logger } from '@aws-lambda-powertools/logger';
import { SERVICE_NAME } from '#commons/constants.ts';

/** One structured JSON logger per execution environment. */
export const logger = new Logger({ serviceName: SERVICE_NAME });
