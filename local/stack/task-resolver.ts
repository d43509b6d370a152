import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import * as dynamodbApi from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  type SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { FUNCTIONS } from '../../functions/registry.ts';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from '../emulators/endpoint.ts';
import { LambdaInvokeError, LambdaServiceError } from '../emulators/lambda-runtime.ts';
import { distributedMapTasks } from '../emulators/step-functions/distributed-map.ts';

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

/** The clients the SDK integrations use; S3 and Step Functions exist only once the stack runs. */
export interface TaskClients {
  readonly dynamodb: DynamoDBClient;
  readonly s3: () => S3Client;
  readonly sfn: () => SFNClient;
}

/** Task resources to local calls: function ARNs to the Lambda runtime, SDK integrations to SDK v3. */
export function resolveTask(
  resource: string,
  invoke: (id: string, input: unknown) => Promise<unknown>,
  clients: TaskClients,
) {
  const { dynamodb } = clients;
  const mapTask = distributedMapTasks(clients.s3)(resource);
  if (mapTask) return mapTask;
  if (resource === START_EXECUTION_SYNC) {
    return (input: unknown) => startExecutionSync(clients.sfn(), input as never);
  }
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

const START_EXECUTION_SYNC = 'arn:aws:states:::states:startExecution.sync:2';

/** How often a `.sync` task looks at its child: soon at first, then at most 5 times a second,
 * since a child noticed late holds its Map slot idle. */
const POLL_MS = { first: 50, max: 200 } as const;

/**
 * `states:startExecution.sync:2`: starts the child, waits for it to close, and returns it with
 * its output as JSON, or fails with `States.TaskFailed` as Step Functions does. A child of this
 * name with this same input is taken as this task's own, started before a crash or a lost
 * answer; with another input it is `StepFunctions.ExecutionAlreadyExistsException`.
 */
async function startExecutionSync(
  sfn: SFNClient,
  input: { StateMachineArn: string; Name?: string; Input?: unknown },
) {
  const body = typeof input.Input === 'string' ? input.Input : JSON.stringify(input.Input ?? {});
  const named = (error: unknown) => {
    const failure = error as Error & { $metadata?: { httpStatusCode?: number } };
    const name =
      failure.$metadata?.httpStatusCode === undefined ? 'SdkClientException' : failure.name;
    return Object.assign(new Error(failure.message), {
      name: `StepFunctions.${name === 'ExecutionAlreadyExists' ? 'ExecutionAlreadyExistsException' : name}`,
    });
  };
  let executionArn: string;
  try {
    const started = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: input.StateMachineArn,
        name: input.Name,
        input: body,
      }),
    );
    executionArn = started.executionArn as string;
  } catch (error) {
    if ((error as Error).name !== 'ExecutionAlreadyExists' || input.Name === undefined) {
      throw named(error);
    }
    executionArn = `${input.StateMachineArn.replace(':stateMachine:', ':execution:')}:${input.Name}`;
    const existing = await sfn.send(new DescribeExecutionCommand({ executionArn })).catch((e) => {
      throw named(e);
    });
    if (existing.input !== body) throw named(error);
  }
  let wait: number = POLL_MS.first;
  for (;;) {
    let child: DescribeExecutionCommandOutput;
    try {
      child = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    } catch (error) {
      throw named(error);
    }
    // The task's result in AWS's shape for `.sync:2`: DescribeExecution's, with JSON bodies.
    const result = {
      ExecutionArn: child.executionArn,
      StateMachineArn: child.stateMachineArn,
      Name: child.name,
      Status: child.status,
      StartDate: child.startDate?.getTime(),
      StopDate: child.stopDate?.getTime(),
      Input: JSON.parse(child.input ?? 'null'),
      InputDetails: { Included: true },
      Output: JSON.parse(child.output ?? 'null'),
      OutputDetails: { Included: true },
      Error: child.error,
      Cause: child.cause,
    };
    if (child.status === 'SUCCEEDED') return result;
    if (child.status !== 'RUNNING' && child.status !== 'PENDING_REDRIVE') {
      throw Object.assign(new Error(JSON.stringify(result)), { name: 'States.TaskFailed' });
    }
    await new Promise((wake) => setTimeout(wake, wait));
    wait = Math.min(POLL_MS.max, wait * 1.5);
  }
}
