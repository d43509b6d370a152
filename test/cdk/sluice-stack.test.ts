import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { AGGREGATES_PREFIX, INCOMING_PREFIX, LEDGER } from '../../functions/commons/constants.ts';
import { arnSubstitution, environmentFor, FUNCTIONS } from '../../functions/registry.ts';
import { SLUICE_RUNTIME } from '../../lib/sluice-function.ts';
import {
  ASL_FILE,
  aslText,
  logicalIdOf,
  SYNTH_TIMEOUT_MS,
  type SynthesizedStack,
  synthesizeStack,
} from './stack-fixture.ts';

let synth: SynthesizedStack;
let template: Template;
const fnId = (id: string) => logicalIdOf(template, 'AWS::Lambda::Function', `${id}Function`);
const aliasRef = (id: string) => ({
  Ref: logicalIdOf(template, 'AWS::Lambda::Alias', `${id}LiveAlias`),
});
const roleId = (id: string) => logicalIdOf(template, 'AWS::IAM::Role', `${id}Role`);
const tableRef = () => ({ Ref: logicalIdOf(template, 'AWS::DynamoDB::GlobalTable', 'Ledger') });
const bucketRef = () => ({ Ref: logicalIdOf(template, 'AWS::S3::Bucket', 'Bucket') });
const stateMachineId = () =>
  logicalIdOf(template, 'AWS::StepFunctions::StateMachine', 'ProcessFile');

beforeAll(() => {
  // GIVEN the stack built from the registry and the ASL file, WHEN it is synthesized once
  synth = synthesizeStack();
  template = synth.template;
}, SYNTH_TIMEOUT_MS);

describe('uploads reach the start function', () => {
  it('routes only Object Created events under incoming/ of this bucket to the queue', () => {
    // THEN the rule matches the S3 EventBridge event for the prefix and targets the upload queue
    template.resourceCountIs('AWS::Events::Rule', 1);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: {
          bucket: { name: [bucketRef()] },
          object: { key: [{ prefix: INCOMING_PREFIX }] },
        },
      },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [logicalIdOf(template, 'AWS::SQS::Queue', 'UploadsQueue'), 'Arn'] },
        }),
      ],
    });
  });

  it('sends EventBridge notifications from an encrypted, private, TLS-only bucket', () => {
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      NotificationConfiguration: { EventBridgeConfiguration: {} },
    });
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
        ],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('gives the upload queue a dead-letter queue and a visibility timeout above the consumer timeout', () => {
    const start = FUNCTIONS.find((fn) => fn.id === 'StartExecution');
    template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: {
        deadLetterTargetArn: {
          'Fn::GetAtt': [logicalIdOf(template, 'AWS::SQS::Queue', 'UploadsDeadLetterQueue'), 'Arn'],
        },
        maxReceiveCount: 5,
      },
      VisibilityTimeout: (start?.timeoutSeconds ?? Number.NaN) * 6,
    });
  });

  it('lets the queue accept messages from the rule only', () => {
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: Match.arrayWith(['sqs:SendMessage']),
            Principal: { Service: 'events.amazonaws.com' },
            Condition: {
              ArnEquals: {
                'aws:SourceArn': {
                  'Fn::GetAtt': [
                    logicalIdOf(template, 'AWS::Events::Rule', 'UploadsObjectCreated'),
                    'Arn',
                  ],
                },
              },
            },
          }),
        ]),
      },
    });
  });

  it("feeds the start function's live alias in batches of 10 with partial batch failures", () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      // `<function name>:live`, the qualified name CDK renders for an alias
      FunctionName: {
        'Fn::Join': [
          '',
          [{ 'Fn::Select': [6, { 'Fn::Split': [':', aliasRef('StartExecution')] }] }, ':live'],
        ],
      },
      EventSourceArn: {
        'Fn::GetAtt': [logicalIdOf(template, 'AWS::SQS::Queue', 'UploadsQueue'), 'Arn'],
      },
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 2 },
    });
  });
});

describe('functions come from the registry', () => {
  it.each(FUNCTIONS.map((fn) => [fn.id, fn] as const))(
    '%s has its size, timeout, arm64 and the runtime',
    (_id, fn) => {
      template.hasResourceProperties('AWS::Lambda::Function', {
        Description: fn.description,
        MemorySize: fn.memorySize,
        Timeout: fn.timeoutSeconds,
        Architectures: ['arm64'],
        Runtime: SLUICE_RUNTIME.name,
        Handler: 'index.handler',
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: {
          LogGroup: { Ref: logicalIdOf(template, 'AWS::Logs::LogGroup', `${fn.id}LogGroup`) },
        },
      });
    },
  );

  it.each(FUNCTIONS.map((fn) => [fn.id, fn] as const))(
    '%s gets exactly the env vars its access list implies',
    (id, fn) => {
      // GIVEN the env that the local runtime would set, with each resource name as its CFN reference
      const expected = environmentFor(fn, {
        bucketName: 'bucket',
        tableName: 'table',
        streamName: 'stream',
        stateMachineArn: 'stateMachine',
        noticeTopicArn: 'noticeTopic',
        expectations: 'expectations',
      });
      const references: Record<string, unknown> = {
        bucket: bucketRef(),
        table: tableRef(),
        stream: { Ref: logicalIdOf(template, 'AWS::Kinesis::Stream', 'AggregatesStream') },
        stateMachine: { Ref: stateMachineId() },
        noticeTopic: { Ref: logicalIdOf(template, 'AWS::SNS::Topic', 'ObservabilityTopic') },
        // The project's schedules.json declares no expectations.
        expectations: '[]',
      };
      // WHEN the deployed function's variables are read
      const variables =
        template.findResources('AWS::Lambda::Function')[fnId(id)]?.Properties.Environment.Variables;
      // THEN they are the same names, pointing at the same resources, plus the runtime settings
      expect(variables).toEqual({
        ...Object.fromEntries(
          Object.entries(expected).map(([name, resource]) => [name, references[resource]]),
        ),
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: 'sluice',
      });
    },
  );

  it('reserves no concurrency unless asked to, so a fresh account can deploy', () => {
    const reserved = Object.values(template.findResources('AWS::Lambda::Function')).filter(
      (fn) => fn.Properties.ReservedConcurrentExecutions !== undefined,
    );
    expect(reserved).toEqual([]);
  });

  it.each(FUNCTIONS.map((fn) => [fn.id]))('%s logs to its own group, kept for a month', (id) => {
    const group =
      template.findResources('AWS::Logs::LogGroup')[
        logicalIdOf(template, 'AWS::Logs::LogGroup', `${id}LogGroup`)
      ];
    expect(group?.Properties.RetentionInDays).toBe(30);
  });
});

describe('IAM for the flow', () => {
  it('lets the start function start ProcessFile executions', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: roleId('StartExecution') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          { Action: 'states:StartExecution', Effect: 'Allow', Resource: { Ref: stateMachineId() } },
        ]),
      },
    });
  });

  it("lets the start function describe ProcessFile's executions, and no other machine's", () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: roleId('StartExecution') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Action: 'states:DescribeExecution',
            Effect: 'Allow',
            Resource: {
              'Fn::Join': [
                '',
                Match.arrayWith([
                  ':execution:',
                  { 'Fn::Select': [6, { 'Fn::Split': [':', { Ref: stateMachineId() }] }] },
                  ':*',
                ]),
              ],
            },
          },
        ]),
      },
    });
  });

  it.each(
    FUNCTIONS.filter((fn) => aslText().includes(`\${${arnSubstitution(fn.id)}}`)).map((fn) => [
      fn.id,
    ]),
  )("lets the state machine invoke %s's live alias, and nothing else of it", (id) => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: logicalIdOf(template, 'AWS::IAM::Role', 'ProcessFileStateMachineRole') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Action: 'lambda:InvokeFunction',
            Effect: 'Allow',
            Resource: aliasRef(id),
          },
        ]),
      },
    });
  });

  it('lets the state machine put ledger items for its direct DynamoDB tasks, on the table alone', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: logicalIdOf(template, 'AWS::IAM::Role', 'ProcessFileStateMachineRole') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Action: 'dynamodb:PutItem',
            Effect: 'Allow',
            Resource: {
              'Fn::GetAtt': [logicalIdOf(template, 'AWS::DynamoDB::GlobalTable', 'Ledger'), 'Arn'],
            },
          },
        ]),
      },
    });
  });

  it('does not let the state machine invoke the start function', () => {
    const policy = JSON.stringify(
      template.findResources('AWS::IAM::Policy', {
        Properties: {
          Roles: [{ Ref: logicalIdOf(template, 'AWS::IAM::Role', 'ProcessFileStateMachineRole') }],
        },
      }),
    );
    expect(policy).toContain(aliasRef('PlanImage').Ref);
    expect(policy).not.toContain('StartExecution');
  });
});

describe('ProcessFile', () => {
  it('substitutes every placeholder of the ASL file, and nothing else', () => {
    // GIVEN the placeholders the ASL file uses
    const placeholders = [
      ...new Set([...aslText().matchAll(/\$\{([^}]+)\}/g)].map((m) => m[1])),
    ].sort();
    expect(placeholders).toContain('LedgerTableName');
    // WHEN the state machine's substitutions are read
    const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine'));
    const substitutions = machine?.Properties.DefinitionSubstitutions as Record<string, unknown>;
    // THEN each has one, with the functions' live alias ARNs and the table name
    expect(Object.keys(substitutions).sort()).toEqual(placeholders);
    expect(substitutions.LedgerTableName).toEqual(tableRef());
    for (const name of placeholders.filter((p) => p !== 'LedgerTableName')) {
      const id = name?.replace(/FunctionArn$/, '') ?? '';
      expect(substitutions[name as string], name).toEqual(aliasRef(id));
    }
  });

  it('deploys the ASL file itself as its definition', () => {
    // GIVEN the S3 object the state machine's definition is read from
    const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine'));
    const key = machine?.Properties.DefinitionS3Location.Key as string;
    // WHEN the asset with that key is found in the cloud assembly
    const manifest = JSON.parse(
      readFileSync(path.join(synth.assembly.directory, 'Sluice.assets.json'), 'utf8'),
    ) as {
      files: Record<
        string,
        { source: { path: string }; destinations: Record<string, { objectKey: string }> }
      >;
    };
    const asset = Object.values(manifest.files).find((file) =>
      Object.values(file.destinations).some((d) => d.objectKey === key),
    );
    expect(asset, `no asset with key ${key}`).toBeDefined();
    // THEN its content is the ASL file, byte for byte
    const deployed = readFileSync(
      path.join(synth.assembly.directory, asset?.source.path ?? ''),
      'utf8',
    );
    expect(deployed).toBe(readFileSync(ASL_FILE, 'utf8'));
  });

  it('traces and logs every execution event', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: {
        Level: 'ALL',
        IncludeExecutionData: true,
        Destinations: [
          {
            CloudWatchLogsLogGroup: {
              LogGroupArn: {
                'Fn::GetAtt': [
                  logicalIdOf(template, 'AWS::Logs::LogGroup', 'ProcessFileLogGroup'),
                  'Arn',
                ],
              },
            },
          },
        ],
      },
    });
  });
});

describe('ledger and aggregates', () => {
  it('keys the ledger by file and version, with the dataset/status index, on demand, with PITR', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: LEDGER.partitionKey, KeyType: 'HASH' },
        { AttributeName: LEDGER.sortKey, KeyType: 'RANGE' },
      ],
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: LEDGER.partitionKey, AttributeType: 'S' },
        { AttributeName: LEDGER.sortKey, AttributeType: 'S' },
        { AttributeName: LEDGER.statusIndexPartitionKey, AttributeType: 'S' },
        { AttributeName: LEDGER.statusIndexSortKey, AttributeType: 'S' },
      ]),
      GlobalSecondaryIndexes: [
        {
          IndexName: LEDGER.statusIndex,
          KeySchema: [
            { AttributeName: LEDGER.statusIndexPartitionKey, KeyType: 'HASH' },
            { AttributeName: LEDGER.statusIndexSortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
      Replicas: [
        Match.objectLike({
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        }),
      ],
    });
  });

  it('delivers the Kinesis stream to the bucket under aggregates/, date-partitioned', () => {
    template.hasResourceProperties('AWS::KinesisFirehose::DeliveryStream', {
      DeliveryStreamType: 'KinesisStreamAsSource',
      KinesisStreamSourceConfiguration: {
        KinesisStreamARN: {
          'Fn::GetAtt': [logicalIdOf(template, 'AWS::Kinesis::Stream', 'AggregatesStream'), 'Arn'],
        },
      },
      ExtendedS3DestinationConfiguration: Match.objectLike({
        BucketARN: { 'Fn::GetAtt': [logicalIdOf(template, 'AWS::S3::Bucket', 'Bucket'), 'Arn'] },
        Prefix: `${AGGREGATES_PREFIX}!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/!{timestamp:HH}/`,
        ErrorOutputPrefix: Match.stringLikeRegexp(
          '^aggregates-errors/!\\{firehose:error-output-type\\}/',
        ),
      }),
    });
  });

  it('keeps the aggregate stream to one encrypted shard', () => {
    template.hasResourceProperties('AWS::Kinesis::Stream', {
      ShardCount: 1,
      StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' },
    });
  });

  it('lets the publisher put records on the stream', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: roleId('PublishAggregates') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'kinesis:PutRecords',
            Resource: {
              'Fn::GetAtt': [
                logicalIdOf(template, 'AWS::Kinesis::Stream', 'AggregatesStream'),
                'Arn',
              ],
            },
          }),
        ]),
      },
    });
  });

  it('outputs the bucket, the state machine, the table, the stream and the dead-letter queue', () => {
    template.hasOutput('BucketName', { Value: bucketRef() });
    template.hasOutput('StateMachineArn', { Value: { Ref: stateMachineId() } });
    template.hasOutput('TableName', { Value: tableRef() });
    template.hasOutput('StreamName', {
      Value: { Ref: logicalIdOf(template, 'AWS::Kinesis::Stream', 'AggregatesStream') },
    });
    template.hasOutput('DeadLetterQueueUrl', {
      Value: { Ref: logicalIdOf(template, 'AWS::SQS::Queue', 'UploadsDeadLetterQueue') },
    });
  });
});
