import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IStream } from 'aws-cdk-lib/aws-kinesis';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { LEDGER } from '../functions/commons/constants.ts';
import type { DatasetExpectation } from '../functions/commons/expectations.ts';
import { type Access, environmentFor, type ObjectAccess } from '../functions/registry.ts';
import { executionsOf } from './asl-state-machine.ts';
import type { SluiceFunction } from './sluice-function.ts';

/** The resources a registry function's `access` list and `objects` can name. */
export interface SluiceResources {
  readonly bucket: IBucket;
  readonly table: ITableV2;
  readonly stream: IStream;
  readonly stateMachine: IStateMachine;
  /** The topic of alarms and notices, and the key it is encrypted with. */
  readonly noticeTopic: ITopic;
  readonly noticeKey: IKey;
  /** The datasets' declared expectations, for `expectations:read`. */
  readonly expectations: readonly DatasetExpectation[];
}

/** What each object access allows, under its prefixes only. */
export const OBJECT_ACTIONS: Readonly<Record<keyof ObjectAccess, readonly string[]>> = {
  // QuarantineFile's CopyObject copies the source's tags by default, which reads them.
  read: ['s3:GetObject', 's3:GetObjectTagging'],
  readIfPresent: ['s3:GetObject'],
  write: ['s3:PutObject', 's3:PutObjectTagging', 's3:AbortMultipartUpload'],
};

/** The ARN of the ledger's `byDatasetStatus` index. */
export function statusIndexArn(table: ITableV2): string {
  return `${table.tableArn}/index/${LEDGER.statusIndex}`;
}

/**
 * Grants a function everything its registry `access` list and `objects` name, as explicit
 * statements on the exact resources (no `grant*` helper, whose actions and ARNs end in `*`), and
 * sets the matching env vars (`environmentFor`, the same function the local runtime uses), so
 * neither exists without the other.
 */
export function connectFunction(fn: SluiceFunction, resources: SluiceResources): void {
  const { definition } = fn;
  const allow = (actions: readonly string[], arns: readonly string[]) =>
    fn.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: [...actions], resources: [...arns] }),
    );
  const { bucket, table, stream, stateMachine, noticeTopic, noticeKey } = resources;

  for (const [kind, actions] of Object.entries(OBJECT_ACTIONS) as [
    keyof ObjectAccess,
    string[],
  ][]) {
    const prefixes = definition.objects?.[kind] ?? [];
    if (prefixes.length > 0) {
      allow(
        actions,
        prefixes.map((prefix) => bucket.arnForObjects(`${prefix}*`)),
      );
    }
  }
  if ((definition.objects?.readIfPresent ?? []).length > 0) {
    // No documented prefix condition keeps the 404: S3 checks ListBucket on the bucket itself.
    allow(['s3:ListBucket'], [bucket.bucketArn]);
  }

  for (const access of definition.access as readonly Access[]) {
    switch (access) {
      case 'table:read':
        allow(['dynamodb:GetItem', 'dynamodb:Query'], [table.tableArn]);
        allow(['dynamodb:Query'], [statusIndexArn(table)]);
        break;
      case 'table:write':
        allow(['dynamodb:PutItem'], [table.tableArn]);
        break;
      case 'stream:write':
        allow(['kinesis:PutRecords'], [stream.streamArn]);
        break;
      case 'executions:start':
        allow(['states:StartExecution'], [stateMachine.stateMachineArn]);
        // To tell its own earlier start (answer lost) from a duplicate event's: see the input.
        allow(['states:DescribeExecution'], [executionsOf(stateMachine)]);
        break;
      case 'executions:read':
        // Whether an attempt that has no final status is still running.
        allow(['states:DescribeExecution'], [executionsOf(stateMachine)]);
        break;
      case 'notices:publish':
        allow(['sns:Publish'], [noticeTopic.topicArn]);
        // SNS encrypts each message with a data key from the topic's key, as the publisher.
        allow(['kms:GenerateDataKey', 'kms:Decrypt'], [noticeKey.keyArn]);
        break;
      case 'expectations:read':
        break; // configuration only: its env var

      default:
        throw new Error(
          `Function ${definition.id}: unknown access '${String(access satisfies never)}'`,
        );
    }
  }
  const environment = environmentFor(definition, {
    bucketName: bucket.bucketName,
    tableName: table.tableName,
    streamName: stream.streamName,
    stateMachineArn: stateMachine.stateMachineArn,
    noticeTopicArn: noticeTopic.topicArn,
    expectations: JSON.stringify(resources.expectations),
  });
  for (const [name, value] of Object.entries(environment)) {
    fn.function.addEnvironment(name, value);
  }
}
