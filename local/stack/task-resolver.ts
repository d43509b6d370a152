import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import * as dynamodbApi from '@aws-sdk/client-dynamodb';
import { FUNCTIONS } from '../../functions/registry.ts';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from '../emulators/endpoint.ts';
import { LambdaInvokeError, LambdaServiceError } from '../emulators/lambda-runtime.ts';

/** A registry function's name locally, as CDK would name it for the stack. */
export const localFunctionName = (id: string) => `sluice-${id}`;

/** The ARN a registry function has locally; the ASL's `${<id>FunctionArn}` resolves to it. */
export const localFunctionArn = (id: string) =>
  `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:function:${localFunctionName(id)}`;

const DYNAMODB_TASKS: Record<string, (client: DynamoDBClient, input: never) => Promise<object>> = {
  putItem: (client, input) => client.send(new dynamodbApi.PutItemCommand(input)),
  getItem: (client, input) => client.send(new dynamodbApi.GetItemCommand(input)),
  updateItem: (client, input) => client.send(new dynamodbApi.UpdateItemCommand(input)),
  deleteItem: (client, input) => client.send(new dynamodbApi.DeleteItemCommand(input)),
};

/** Task resources to local calls: function ARNs to the Lambda runtime, SDK integrations to SDK v3. */
export function resolveTask(
  resource: string,
  invoke: (id: string, input: unknown) => Promise<unknown>,
  dynamodb: DynamoDBClient,
) {
  const fn = FUNCTIONS.find((candidate) => localFunctionArn(candidate.id) === resource);
  if (fn) {
    return async (input: unknown) => {
      try {
        return await invoke(fn.id, input);
      } catch (error) {
        if (error instanceof LambdaServiceError) {
          throw Object.assign(new Error(error.message), { name: `Lambda.${error.code}` });
        }
        if (!(error instanceof LambdaInvokeError)) throw error;
        // Step Functions puts Lambda's error JSON in Cause, as on AWS.
        throw Object.assign(new Error(error.toCause()), { name: error.name });
      }
    };
  }
  const action = /^arn:aws:states:::dynamodb:(\w+)$/.exec(resource)?.[1];
  const call = action ? DYNAMODB_TASKS[action] : undefined;
  if (!call) return undefined;
  return async (input: unknown) => {
    try {
      const { $metadata, ...output } = (await call(dynamodb, input as never)) as {
        $metadata: unknown;
      };
      return output;
    } catch (error) {
      const failure = error as Error & { $metadata?: { httpStatusCode?: number } };
      // An answer from DynamoDB keeps its name; a call that got none (a reset, a timeout) gets
      // the generic name Step Functions gives DynamoDB failures.
      const name =
        failure.$metadata?.httpStatusCode === undefined ? 'AmazonDynamoDBException' : failure.name;
      throw Object.assign(new Error(failure.message), { name: `DynamoDB.${name}` });
    }
  };
}
