import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IStream } from 'aws-cdk-lib/aws-kinesis';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { type Access, environmentFor } from '../functions/registry.ts';
import type { SluiceFunction } from './sluice-function.ts';

/** The resources a registry function's `access` list can name. */
export interface SluiceResources {
  readonly bucket: IBucket;
  readonly table: ITableV2;
  readonly stream: IStream;
  readonly stateMachine: IStateMachine;
}

/**
 * Grants a function everything its registry `access` list names and sets the matching env vars
 * (`environmentFor`, the same function the local runtime uses), so neither exists without the other.
 */
export function connectFunction(fn: SluiceFunction, resources: SluiceResources): void {
  const { definition } = fn;
  const handler = fn.function;
  for (const access of definition.access as readonly Access[]) {
    switch (access) {
      case 'bucket:read':
        resources.bucket.grantRead(handler);
        break;
      case 'bucket:write':
        resources.bucket.grantWrite(handler);
        break;
      case 'table:read':
        resources.table.grantReadData(handler);
        break;
      case 'table:write':
        resources.table.grantWriteData(handler);
        break;
      case 'stream:write':
        resources.stream.grantWrite(handler);
        break;
      case 'executions:start':
        resources.stateMachine.grantStartExecution(handler);
        // To tell its own earlier start (answer lost) from a duplicate event's: see the input.
        resources.stateMachine.grantExecution(handler, 'states:DescribeExecution');
        break;
      case 'executions:read':
        // Whether an attempt that has no final status is still running.
        resources.stateMachine.grantExecution(handler, 'states:DescribeExecution');
        break;
      default:
        throw new Error(
          `Function ${definition.id}: unknown access '${String(access satisfies never)}'`,
        );
    }
  }
  const environment = environmentFor(definition, {
    bucketName: resources.bucket.bucketName,
    tableName: resources.table.tableName,
    streamName: resources.stream.streamName,
    stateMachineArn: resources.stateMachine.stateMachineArn,
  });
  for (const [name, value] of Object.entries(environment)) {
    handler.addEnvironment(name, value);
  }
}
