import { Validations } from 'aws-cdk-lib';
// cdk-nag's own flattening of a CloudFormation reference, so the finding ids below are the ones
// it reports (`<Bucket83908E77.Arn>/incoming/*`); it is not re-exported from the package root.
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';
import type { IConstruct } from 'constructs';
import { objectPrefixes } from '../functions/registry.ts';
import { executionsOf } from './asl-state-machine.ts';
import type { SluiceStack } from './sluice-stack.ts';

/** One AwsSolutions finding that cannot be fixed, on one construct and everything under it. */
export interface NagAcknowledgement {
  readonly scope: IConstruct;
  /** The rule, with its finding for rules that report several (`AwsSolutions-IAM5[Resource::*]`). */
  readonly id: string;
  /** Why it cannot be fixed. */
  readonly reason: string;
}

const NO_RESOURCE_XRAY =
  "X-Ray's PutTraceSegments and PutTelemetryRecords take no resource: AWS documents Resource '*' for active tracing";
const NO_RESOURCE_MACHINE =
  "X-Ray tracing and the CloudWatch Logs delivery actions (logs:CreateLogDelivery and the rest) take no resource: AWS documents Resource '*' for them";
const RUN_TIME_EXECUTIONS =
  "ProcessFile's executions only; their names are made per file version at run time";

/**
 * Every AwsSolutions finding sluice acknowledges rather than fixes, with why. Anything else fails
 * `cdk synth` (lib/app.ts) and test/cdk/nag.test.ts, which also fails an entry that no longer
 * matches a finding.
 */
export function nagAcknowledgements(stack: SluiceStack): NagAcknowledgement[] {
  const wildcard = (resource: string) =>
    `AwsSolutions-IAM5[Resource::${flattenCfnReference(stack.resolve(resource))}]`;
  const objectsUnder = (prefix: string) => wildcard(stack.bucket.arnForObjects(`${prefix}*`));
  const processFileExecutions = wildcard(executionsOf(stack.processFile.stateMachine));
  const notificationsHandler = stack.node.children.find((child) =>
    child.node.id.startsWith('BucketNotificationsHandler'),
  );
  if (notificationsHandler === undefined) {
    throw new Error('The stack has no BucketNotificationsHandler, which an acknowledgement names');
  }

  return [
    ...Object.values(stack.functions).flatMap((fn): NagAcknowledgement[] => [
      { scope: fn, id: 'AwsSolutions-IAM5[Resource::*]', reason: NO_RESOURCE_XRAY },
      ...objectPrefixes(fn.definition).map((prefix) => ({
        scope: fn,
        id: objectsUnder(prefix),
        reason: `Objects under ${prefix}, the prefix the registry declares for ${fn.definition.id}; their keys are made per file`,
      })),
      ...(fn.definition.access.some((access) => access.startsWith('executions:'))
        ? [{ scope: fn, id: processFileExecutions, reason: RUN_TIME_EXECUTIONS }]
        : []),
    ]),
    ...(stack.functions.SummariseBatch
      ? [
          {
            scope: stack.functions.SummariseBatch,
            id: wildcard(stack.processBatch.executionsArn),
            reason: "ProcessBatch's executions only (ListMapRuns); their names are made per batch",
          },
        ]
      : []),
    { scope: stack.processFile, id: 'AwsSolutions-IAM5[Resource::*]', reason: NO_RESOURCE_MACHINE },
    {
      scope: stack.processBatch,
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: NO_RESOURCE_MACHINE,
    },
    {
      scope: stack.processBatch,
      id: objectsUnder(stack.processBatch.resultsPrefix),
      reason: `Map Run results under ${stack.processBatch.resultsPrefix}, the ResultWriter's Prefix; Step Functions names the files per run`,
    },
    {
      scope: stack.processBatch,
      id: processFileExecutions,
      reason: `.sync children: ${RUN_TIME_EXECUTIONS}`,
    },
    {
      scope: stack.processBatch,
      id: wildcard(stack.processBatch.executionsArn),
      reason:
        "The Distributed Map's child workflow executions of ProcessBatch itself, named at run time",
    },
    {
      scope: stack.processBatch,
      id: wildcard(stack.processBatch.mapRunsArn),
      reason: "ProcessBatch's own Map Runs (RedriveExecution), named at run time",
    },
    ...stack.aggregates.prefixes.map((prefix) => ({
      scope: stack.aggregates,
      id: objectsUnder(prefix),
      reason: `Firehose's deliveries under ${prefix}, keyed by delivery time`,
    })),
    {
      scope: stack.aggregates.deliveryStream,
      id: 'AwsSolutions-KDF1',
      reason:
        'Firehose server-side encryption applies to Direct PUT only: with a Kinesis source the records are encrypted in the stream (KMS) and in the bucket (SSE-S3)',
    },
    {
      scope: notificationsHandler,
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason:
        "CDK's own singleton function that turns the bucket's EventBridge notifications on; sluice does not build its role",
    },
    {
      scope: stack.schedules.deadLetterQueue,
      id: 'AwsSolutions-SQS3',
      reason:
        "It is the schedules' dead-letter queue (each Scheduler target's DeadLetterConfig), which the rule does not recognise",
    },
  ];
}

/** Acknowledges every entry of `nagAcknowledgements` on its construct. */
export function acknowledgeNagFindings(stack: SluiceStack): void {
  for (const { scope, id, reason } of nagAcknowledgements(stack)) {
    Validations.of(scope).acknowledge({ id, reason });
  }
}
