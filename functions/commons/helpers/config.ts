import { getStringFromEnv } from '@aws-lambda-powertools/commons/utils/env';
import { ENV } from '#commons/constants.ts';

/** Reads a required env var once, failing fast with the variable's name. */
function required(key: string): () => string {
  let value: string | undefined;
  return () => {
    value ??= getStringFromEnv({
      key,
      errorMessage: `${key} is not set: the function registry grants it with the resource`,
    });
    return value;
  };
}

export const bucketName = required(ENV.bucket);
export const tableName = required(ENV.table);
export const streamName = required(ENV.stream);
export const stateMachineArn = required(ENV.stateMachine);
export const noticeTopicArn = required(ENV.noticeTopic);
/** The datasets' declared expectations, as JSON (`DatasetExpectation[]`). */
export const expectationsJson = required(ENV.expectations);
