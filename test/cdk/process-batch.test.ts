import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { AttributeType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_BATCH_CONCURRENCY } from '../../functions/commons/batch.ts';
import { InvalidSchedules } from '../../functions/commons/schedules.ts';
import { AslStateMachine } from '../../lib/asl-state-machine.ts';
import { ProcessBatch, S3_LIST_OBJECTS } from '../../lib/process-batch.ts';
import { SluiceStack } from '../../lib/sluice-stack.ts';
import {
  batchAslText,
  logicalIdOf,
  SYNTH_TIMEOUT_MS,
  type SynthesizedStatement,
  statementsByPolicy,
  synthesizeStack,
  writeSchedulesFile,
} from './stack-fixture.ts';

const NIGHTLY = {
  name: 'orders-nightly',
  dataset: 'orders',
  expression: 'cron(0 2 * * ? *)',
  timeZone: 'Europe/London',
  mode: 'new',
  flexibleWindowMinutes: 30,
};
const HOURLY = {
  name: 'orders-hourly',
  dataset: 'orders',
  expression: 'rate(1 hour)',
  timeZone: 'UTC',
  prefix: 'incoming/orders/2026/',
  mode: 'reprocess',
  flexibleWindowMinutes: 0,
  maxConcurrency: 5,
};
/** An ASL `${name}` substitution placeholder. */
const placeholder = (name: string): string => `\${${name}}`;

const declaration = (...schedules: unknown[]) => ({ datasets: ['orders'], schedules });

let template: Template;

beforeAll(() => {
  // GIVEN the stack with a nightly and an hourly schedule declared, WHEN it is synthesized once
  template = synthesizeStack({
    schedulesFile: writeSchedulesFile(declaration(NIGHTLY, HOURLY)),
  }).template;
}, SYNTH_TIMEOUT_MS);

const batchId = () => logicalIdOf(template, 'AWS::StepFunctions::StateMachine', 'ProcessBatch');
const processFileId = () =>
  logicalIdOf(template, 'AWS::StepFunctions::StateMachine', 'ProcessFile');
const bucketId = () => logicalIdOf(template, 'AWS::S3::Bucket', 'Bucket');
const aliasRef = (id: string) => ({
  Ref: logicalIdOf(template, 'AWS::Lambda::Alias', `${id}LiveAlias`),
});
const batchRoleId = () => logicalIdOf(template, 'AWS::IAM::Role', 'ProcessBatchStateMachineRole');
const defaultPolicyId = () =>
  logicalIdOf(template, 'AWS::IAM::Policy', 'ProcessBatchStateMachineRoleDefaultPolicy');
const mapPolicyId = () =>
  logicalIdOf(template, 'AWS::IAM::Policy', 'ProcessBatchDistributedMapPolicy');
const deadLetterQueueArn = () => ({
  'Fn::GetAtt': [logicalIdOf(template, 'AWS::SQS::Queue', 'SchedulesDeadLetterQueue'), 'Arn'],
});
const batchStatements = (): Record<string, SynthesizedStatement[]> =>
  statementsByPolicy(template, batchRoleId());
const actionsOf = (statement: SynthesizedStatement): string[] =>
  typeof statement.Action === 'string' ? [statement.Action] : statement.Action;
/** `arn:<partition>:<service>:<region>:<account><rest…>`, as Stack.formatArn renders it. */
const stackArn = (service: string, ...rest: unknown[]) => ({
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      `:${service}:`,
      { Ref: 'AWS::Region' },
      ':',
      { Ref: 'AWS::AccountId' },
      ...rest,
    ],
  ],
});
const scheduleOf = (name: string) => {
  const id = logicalIdOf(
    template,
    'AWS::Scheduler::Schedule',
    `Schedules${name.replace(/-/g, '')}`,
  );
  return template.findResources('AWS::Scheduler::Schedule')[id]?.Properties;
};

describe('ProcessBatch', () => {
  it('substitutes the bucket, ProcessFile and the two batch functions, and nothing else', () => {
    // GIVEN the placeholders the batch ASL file uses
    const placeholders = [
      ...new Set([...batchAslText().matchAll(/\$\{([^}]+)\}/g)].map((m) => m[1])),
    ].sort();
    // WHEN ProcessBatch's substitutions are read
    const machine = template.findResources('AWS::StepFunctions::StateMachine')[batchId()];
    const substitutions = machine?.Properties.DefinitionSubstitutions as Record<string, unknown>;
    // THEN each placeholder has one, pointing at this stack's resources
    expect(Object.keys(substitutions).sort()).toEqual(placeholders);
    expect(substitutions).toEqual({
      BucketName: { Ref: bucketId() },
      ProcessFileStateMachineArn: { Ref: processFileId() },
      PlanBatchItemFunctionArn: aliasRef('PlanBatchItem'),
      SummariseBatchFunctionArn: aliasRef('SummariseBatch'),
    });
  });

  it('has a fixed name, which its own grants are built from, and traces and logs every event', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineName: 'Sluice-ProcessBatch',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: {
        Level: 'ALL',
        IncludeExecutionData: true,
        Destinations: [
          {
            CloudWatchLogsLogGroup: {
              LogGroupArn: {
                'Fn::GetAtt': [
                  logicalIdOf(template, 'AWS::Logs::LogGroup', 'ProcessBatchLogGroup'),
                  'Arn',
                ],
              },
            },
          },
        ],
      },
    });
  });

  it('outputs its ARN as BatchStateMachineArn', () => {
    template.hasOutput('BatchStateMachineArn', { Value: { Ref: batchId() } });
  });
});

describe('IAM for ProcessBatch', () => {
  it('lists the bucket under incoming/ only', () => {
    // WHEN the S3 statements of the batch role are read
    const s3 = Object.values(batchStatements())
      .flat()
      .filter((s) => actionsOf(s).some((a) => a.startsWith('s3:')));
    // THEN the listing is conditioned on the prefix, and is one of exactly two S3 grants
    expect(s3).toHaveLength(2);
    expect(s3).toContainEqual({
      Action: 's3:ListBucket',
      Condition: { StringLike: { 's3:prefix': 'incoming/*' } },
      Effect: 'Allow',
      Resource: { 'Fn::GetAtt': [bucketId(), 'Arn'] },
    });
  });

  it('writes Map Run results under batches/results/ only', () => {
    expect(batchStatements()[defaultPolicyId()]).toContainEqual({
      Action: [
        's3:PutObject',
        's3:GetObject',
        's3:AbortMultipartUpload',
        's3:ListMultipartUploadParts',
      ],
      Effect: 'Allow',
      Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId(), 'Arn'] }, '/batches/results/*']] },
    });
  });

  it('runs ProcessFile children to their end (.sync), and no other machine', () => {
    // GIVEN the statements of the role's default policy
    const statements = batchStatements()[defaultPolicyId()];
    // THEN it may start ProcessFile, follow and stop its executions, and manage the .sync rule
    expect(statements).toContainEqual({
      Action: 'states:StartExecution',
      Effect: 'Allow',
      Resource: { Ref: processFileId() },
    });
    expect(statements).toContainEqual({
      Action: ['states:DescribeExecution', 'states:StopExecution'],
      Effect: 'Allow',
      Resource: stackArn(
        'states',
        ':execution:',
        { 'Fn::Select': [6, { 'Fn::Split': [':', { Ref: processFileId() }] }] },
        ':*',
      ),
    });
    expect(statements).toContainEqual({
      Action: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
      Effect: 'Allow',
      Resource: stackArn('events', ':rule/StepFunctionsGetEventsForStepFunctionsExecutionRule'),
    });
    // AND ProcessFile is the only machine the default policy lets it start
    const starts = statements?.filter((s) => actionsOf(s).includes('states:StartExecution'));
    expect(starts?.map((s) => s.Resource)).toEqual([{ Ref: processFileId() }]);
  });

  it("grants the Distributed Map's own child executions in a separate policy, by name", () => {
    // GIVEN every policy attached to the batch role
    const policies = batchStatements();
    // THEN the map's grants are their own policy, built from the name rather than a reference
    expect(policies[mapPolicyId()]).toEqual([
      {
        Action: 'states:StartExecution',
        Effect: 'Allow',
        Resource: stackArn('states', ':stateMachine:Sluice-ProcessBatch'),
      },
      {
        Action: ['states:DescribeExecution', 'states:StopExecution'],
        Effect: 'Allow',
        Resource: stackArn('states', ':execution:Sluice-ProcessBatch:*'),
      },
      {
        Action: 'states:RedriveExecution',
        Effect: 'Allow',
        Resource: stackArn('states', ':execution:Sluice-ProcessBatch/*:*'),
      },
    ]);
    // AND nothing the state machine depends on refers to the state machine (no cycle)
    const machine = template.findResources('AWS::StepFunctions::StateMachine')[batchId()];
    expect(machine?.DependsOn).not.toContain(mapPolicyId());
    expect(JSON.stringify(policies[defaultPolicyId()])).not.toContain(batchId());
  });

  it("invokes the two batch functions' live aliases, and no other", () => {
    // WHEN the invoke statements of the batch role are read
    const invokes = Object.values(batchStatements())
      .flat()
      .filter((s) => actionsOf(s).includes('lambda:InvokeFunction'));
    // THEN each names one alias ARN exactly, for PlanBatchItem and SummariseBatch only
    expect(invokes).toEqual(
      ['PlanBatchItem', 'SummariseBatch'].map((id) => ({
        Action: 'lambda:InvokeFunction',
        Effect: 'Allow',
        Resource: aliasRef(id),
      })),
    );
  });

  it("lets SummariseBatch list ProcessBatch's Map Runs, by name, and no other machine's", () => {
    // GIVEN the role of the SummariseBatch function
    const roleId = logicalIdOf(template, 'AWS::IAM::Role', 'SummariseBatchRole');
    // WHEN its Step Functions statements are read
    const statements = Object.values(statementsByPolicy(template, roleId))
      .flat()
      .filter((s) => actionsOf(s).some((a) => a.startsWith('states:')));
    // THEN it may list the Map Runs of ProcessBatch's executions only
    expect(statements).toEqual([
      {
        Action: 'states:ListMapRuns',
        Effect: 'Allow',
        Resource: stackArn('states', ':execution:Sluice-ProcessBatch:*'),
      },
    ]);
  });

  it('grants no S3, Step Functions, EventBridge or Lambda action on every resource', () => {
    const scoped = Object.values(batchStatements())
      .flat()
      .filter((s) => actionsOf(s).some((a) => /^(s3|states|events|lambda):/.test(a)));
    expect(scoped.length).toBeGreaterThanOrEqual(9);
    for (const statement of scoped) {
      const resources = Array.isArray(statement.Resource)
        ? statement.Resource
        : [statement.Resource];
      expect(resources, JSON.stringify(statement)).not.toContain('*');
    }
  });
});

describe('batch schedules', () => {
  it('starts ProcessBatch nightly in its time zone, within a flexible window', () => {
    // WHEN the nightly schedule is read
    const schedule = scheduleOf('orders-nightly');
    // THEN it runs the cron in Europe/London with the 30-minute window, against ProcessBatch
    expect(schedule).toMatchObject({
      ScheduleExpression: 'cron(0 2 * * ? *)',
      ScheduleExpressionTimezone: 'Europe/London',
      FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 30 },
      State: 'ENABLED',
      Target: {
        Arn: { Ref: batchId() },
        RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 },
        DeadLetterConfig: { Arn: deadLetterQueueArn() },
      },
    });
    // AND its input names the batch after the schedule and the slot Scheduler fills in
    expect(JSON.parse(schedule?.Target.Input)).toEqual({
      batchId: 'orders-nightly-<aws.scheduler.scheduled-time>',
      prefix: 'incoming/orders/',
      mode: 'new',
      schedule: 'orders-nightly',
      maxConcurrency: DEFAULT_BATCH_CONCURRENCY,
    });
  });

  it('runs a rate schedule with its prefix, mode and concurrency, and no window', () => {
    const schedule = scheduleOf('orders-hourly');
    expect(schedule).toMatchObject({
      ScheduleExpression: 'rate(1 hour)',
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: { Arn: { Ref: batchId() }, DeadLetterConfig: { Arn: deadLetterQueueArn() } },
    });
    expect(schedule?.FlexibleTimeWindow).not.toHaveProperty('MaximumWindowInMinutes');
    expect(JSON.parse(schedule?.Target.Input)).toEqual({
      batchId: 'orders-hourly-<aws.scheduler.scheduled-time>',
      prefix: 'incoming/orders/2026/',
      mode: 'reprocess',
      schedule: 'orders-hourly',
      maxConcurrency: 5,
    });
  });

  it('shares one encrypted, TLS-only dead-letter queue, and outputs its URL', () => {
    const queueId = logicalIdOf(template, 'AWS::SQS::Queue', 'SchedulesDeadLetterQueue');
    template.resourceCountIs('AWS::Scheduler::Schedule', 2);
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
    expect(template.findResources('AWS::SQS::Queue')[queueId]?.Properties).toMatchObject({
      SqsManagedSseEnabled: true,
    });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
    template.hasOutput('ScheduleDeadLetterQueueUrl', { Value: { Ref: queueId } });
  });

  it("lets the scheduler's role start ProcessBatch and dead-letter, and nothing else", () => {
    // GIVEN the role the schedules assume
    const roleArn = scheduleOf('orders-nightly')?.Target.RoleArn as { 'Fn::GetAtt': [string] };
    const roleId = roleArn['Fn::GetAtt'][0];
    expect(scheduleOf('orders-hourly')?.Target.RoleArn).toEqual(roleArn);
    // WHEN its policies are read
    const statements = Object.values(statementsByPolicy(template, roleId)).flat();
    // THEN it may start ProcessBatch executions and send to the dead-letter queue only
    expect(statements).toEqual([
      { Action: 'states:StartExecution', Effect: 'Allow', Resource: { Ref: batchId() } },
      { Action: 'sqs:SendMessage', Effect: 'Allow', Resource: deadLetterQueueArn() },
    ]);
    // AND only EventBridge Scheduler of this account may assume it
    expect(
      template.findResources('AWS::IAM::Role')[roleId]?.Properties.AssumeRolePolicyDocument,
    ).toMatchObject({
      Statement: [
        {
          Action: 'sts:AssumeRole',
          Principal: { Service: 'scheduler.amazonaws.com' },
          Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
        },
      ],
    });
  });

  it(
    'makes no schedule, but still the dead-letter queue, without a declaration file',
    () => {
      // GIVEN a schedules file that does not exist
      const absent = path.join(mkdtempSync(path.join(tmpdir(), 'sluice-none-')), 'schedules.json');
      // WHEN the stack is synthesized
      const { template: bare } = synthesizeStack({ schedulesFile: absent });
      // THEN there are no schedules, and the outputs keep their shape
      bare.resourceCountIs('AWS::Scheduler::Schedule', 0);
      bare.hasOutput('ScheduleDeadLetterQueueUrl', Match.anyValue());
      bare.hasOutput('BatchStateMachineArn', Match.anyValue());
    },
    SYNTH_TIMEOUT_MS,
  );

  it(
    'fails the synth on a bad cron, naming the schedule and the field',
    () => {
      // GIVEN a declaration whose cron has hour 25
      const schedulesFile = writeSchedulesFile(
        declaration({ ...NIGHTLY, expression: 'cron(0 25 * * ? *)' }),
      );
      const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
      // WHEN the stack is built, THEN it throws the declaration module's error
      let thrown: unknown;
      try {
        new SluiceStack(app, 'Sluice', { schedulesFile });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(InvalidSchedules);
      expect((thrown as Error).message).toContain(schedulesFile);
      expect((thrown as Error).message).toMatch(/schedule 'orders-nightly': expression: .*25/);
    },
    SYNTH_TIMEOUT_MS,
  );
});

describe('grants follow the definition file', () => {
  const aslDir = mkdtempSync(path.join(tmpdir(), 'sluice-batch-asl-'));
  const aslFile = (name: string, states: Record<string, unknown>): string => {
    const file = path.join(aslDir, name);
    writeFileSync(file, JSON.stringify({ StartAt: Object.keys(states)[0], States: states }));
    return file;
  };
  const distributedMap = (itemReaderBucket: string, childMachine: string) => ({
    Type: 'Map',
    ItemReader: {
      Resource: S3_LIST_OBJECTS,
      Parameters: { Bucket: itemReaderBucket, 'Prefix.$': '$.prefix' },
    },
    ItemProcessor: {
      ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
      StartAt: 'Child',
      States: {
        Child: {
          Type: 'Task',
          Resource: 'arn:aws:states:::states:startExecution.sync:2',
          Parameters: { StateMachineArn: childMachine },
          End: true,
        },
      },
    },
    ResultWriter: {
      Resource: 'arn:aws:states:::s3:putObject',
      Parameters: { Bucket: placeholder('BucketName'), Prefix: 'batches/results' },
    },
    End: true,
  });

  function fixtures() {
    const stack = new Stack(new App(), 'Test');
    const table = new TableV2(stack, 'Table', {
      partitionKey: { name: 'pk', type: AttributeType.STRING },
    });
    const fn = new LambdaFunction(stack, 'Fn', {
      code: Code.fromInline('export const handler = async () => {}'),
      handler: 'index.handler',
      runtime: Runtime.NODEJS_24_X,
    });
    const bucket = new Bucket(stack, 'Bucket');
    const processFile = StateMachine.fromStateMachineArn(
      stack,
      'ProcessFile',
      'arn:aws:states:eu-west-1:111111111111:stateMachine:pf',
    );
    return { stack, table, fn, bucket, processFile };
  }

  it('rejects a Distributed Map without a state machine name to grant its children on', () => {
    const { stack, table, bucket } = fixtures();
    const definitionFile = aslFile('unnamed.asl.json', {
      Batch: distributedMap(placeholder('BucketName'), placeholder('ProcessFileStateMachineArn')),
    });
    expect(
      () =>
        new AslStateMachine(stack, 'Sm', {
          definitionFile,
          functions: {},
          table,
          substitutions: { BucketName: bucket.bucketName, ProcessFileStateMachineArn: 'arn' },
          integrations: {
            'arn:aws:states:::s3:listObjectsV2': [],
            'arn:aws:states:::s3:putObject': [],
            'arn:aws:states:::states:startExecution.sync:2': [],
          },
        }),
    ).toThrow('has a Distributed Map, which needs a stateMachineName');
  });

  it('rejects a grant or a substitution the definition does not use', () => {
    const { stack, table, fn } = fixtures();
    const definitionFile = aslFile('lambda-only.asl.json', {
      A: { Type: 'Task', Resource: placeholder('PresentFunctionArn'), End: true },
    });
    const build = (extra: object) => () =>
      new AslStateMachine(stack, `Sm${Object.keys(extra).join('')}`, {
        definitionFile,
        functions: { Present: fn },
        table,
        ...extra,
      });
    expect(build({ integrations: { [S3_LIST_OBJECTS]: [] } })).toThrow(
      `uses no Resource '${S3_LIST_OBJECTS}', yet a grant was given for it`,
    );
    expect(build({ substitutions: { BucketName: 'b' } })).toThrow(
      'has no placeholder for substitution BucketName',
    );
  });

  it('rejects a child machine or a listed bucket other than the ones granted', () => {
    const { stack, table, fn, bucket, processFile } = fixtures();
    const props = { bucket, processFile, table, functions: { Present: fn } };
    const otherChild = aslFile('other-child.asl.json', {
      Batch: distributedMap(
        placeholder('BucketName'),
        'arn:aws:states:eu-west-1:1:stateMachine:other',
      ),
    });
    const otherBucket = aslFile('other-bucket.asl.json', {
      Batch: distributedMap('someone-elses-bucket', placeholder('ProcessFileStateMachineArn')),
    });
    expect(() => new ProcessBatch(stack, 'A', { ...props, definitionFile: otherChild })).toThrow(
      `must have StateMachineArn '${placeholder('ProcessFileStateMachineArn')}', the one it is granted on, got "arn:aws:states:eu-west-1:1:stateMachine:other"`,
    );
    expect(() => new ProcessBatch(stack, 'B', { ...props, definitionFile: otherBucket })).toThrow(
      `must have Bucket '${placeholder('BucketName')}', the one it is granted on, got "someone-elses-bucket"`,
    );
  });
});
