import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { AGGREGATES_PREFIX, INCOMING_PREFIX, LEDGER } from '../../functions/commons/constants.ts';
import { FUNCTIONS, type FunctionDefinition, objectPrefixes } from '../../functions/registry.ts';
import { LIVE_ALIAS } from '../../lib/sluice-function.ts';
import {
  logicalIdOf,
  SYNTH_TIMEOUT_MS,
  type SynthesizedStatement,
  statementsByPolicy,
  synthesizeStack,
} from './stack-fixture.ts';

let template: Template;

beforeAll(() => {
  // GIVEN the stack built from the registry, WHEN it is synthesized once
  template = synthesizeStack().template;
}, SYNTH_TIMEOUT_MS);

const roleId = (id: string) => logicalIdOf(template, 'AWS::IAM::Role', `${id}Role`);
const bucketArn = () => ({
  'Fn::GetAtt': [logicalIdOf(template, 'AWS::S3::Bucket', 'Bucket'), 'Arn'],
});
const objectsArn = (prefix: string) => ({ 'Fn::Join': ['', [bucketArn(), `/${prefix}*`]] });
const tableArn = () => ({
  'Fn::GetAtt': [logicalIdOf(template, 'AWS::DynamoDB::GlobalTable', 'Ledger'), 'Arn'],
});
const aliasRef = (id: string) => ({
  Ref: logicalIdOf(template, 'AWS::Lambda::Alias', `${id}LiveAlias`),
});
const statementsOf = (role: string): SynthesizedStatement[] =>
  Object.values(statementsByPolicy(template, role)).flat();
const actionsOf = (statement: SynthesizedStatement): string[] =>
  typeof statement.Action === 'string' ? [statement.Action] : statement.Action;
const resourcesOf = (statement: SynthesizedStatement): unknown[] =>
  Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
const byService = (statements: SynthesizedStatement[], service: string) =>
  statements.filter((s) => actionsOf(s).some((a) => a.startsWith(`${service}:`)));
const functionCases = FUNCTIONS.map((fn): [string, FunctionDefinition] => [fn.id, fn]);

describe('function roles', () => {
  it.each(functionCases)('%s has its own role, with no managed policy', (id) => {
    const role = template.findResources('AWS::IAM::Role')[roleId(id)]?.Properties;
    expect(role?.ManagedPolicyArns).toBeUndefined();
    expect(role?.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Action: 'sts:AssumeRole',
        Effect: 'Allow',
        Principal: { Service: 'lambda.amazonaws.com' },
      },
    ]);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: FUNCTIONS.find((fn) => fn.id === id)?.description,
      Role: { 'Fn::GetAtt': [roleId(id), 'Arn'] },
    });
  });

  it.each(functionCases)('%s may log to its own group only, and trace', (id) => {
    // WHEN the role's logs and X-Ray statements are read
    const statements = statementsOf(roleId(id));
    // THEN logs name the function's log group, and X-Ray (which takes no resource) is all of '*'
    expect(byService(statements, 'logs')).toEqual([
      {
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Effect: 'Allow',
        Resource: {
          'Fn::GetAtt': [logicalIdOf(template, 'AWS::Logs::LogGroup', `${id}LogGroup`), 'Arn'],
        },
      },
    ]);
    const everything = statements.filter((s) => resourcesOf(s).includes('*'));
    expect(everything.flatMap(actionsOf).sort()).toEqual([
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ]);
  });

  it.each(functionCases)(
    '%s has no data action on every resource, nor any wildcard action',
    (id) => {
      const data = statementsOf(roleId(id)).filter((s) =>
        actionsOf(s).some((a) => /^(s3|dynamodb|kinesis|lambda|states):/.test(a)),
      );
      for (const statement of data) {
        expect(resourcesOf(statement), JSON.stringify(statement)).not.toContain('*');
        expect(actionsOf(statement).filter((a) => a.includes('*'))).toEqual([]);
        expect(JSON.stringify(statement.Resource)).not.toContain('/index/*');
      }
    },
  );

  it.each(functionCases)("%s's S3 statements name only its registry prefixes", (id, fn) => {
    // GIVEN the prefixes the registry declares for the function
    const prefixes = objectPrefixes(fn);
    // WHEN its S3 statements are read
    const s3 = byService(statementsOf(roleId(id)), 's3');
    const resources = s3.flatMap(resourcesOf);
    // THEN the objects it may touch are exactly those prefixes' keys
    const bucket = JSON.stringify(bucketArn());
    const objects = new Set(resources.map((r) => JSON.stringify(r)).filter((r) => r !== bucket));
    expect([...objects].sort()).toEqual(prefixes.map((p) => JSON.stringify(objectsArn(p))).sort());
    // AND the bucket itself only to tell a missing optional object (NoSuchKey) from a forbidden one
    const onBucket = s3.filter((s) => resourcesOf(s).some((r) => JSON.stringify(r) === bucket));
    expect(onBucket).toEqual(
      (fn.objects?.readIfPresent ?? []).length > 0
        ? [{ Action: 's3:ListBucket', Effect: 'Allow', Resource: bucketArn() }]
        : [],
    );
    // AND writes only go under its write prefixes
    const writes = s3.filter((s) => actionsOf(s).includes('s3:PutObject')).flatMap(resourcesOf);
    expect(writes).toEqual((fn.objects?.write ?? []).map(objectsArn));
  });

  it('lets only the batch planner, the expectation check and the HTTP API read the ledger, on the table and its named index', () => {
    const readers = FUNCTIONS.filter((fn) =>
      byService(statementsOf(roleId(fn.id)), 'dynamodb').some((s) =>
        actionsOf(s).includes('dynamodb:Query'),
      ),
    );
    expect(readers.map((fn) => fn.id)).toEqual(['PlanBatchItem', 'CheckExpectations', 'HttpApi']);
    for (const id of ['PlanBatchItem', 'HttpApi']) {
      expect(byService(statementsOf(roleId(id)), 'dynamodb'), id).toEqual([
        { Action: ['dynamodb:GetItem', 'dynamodb:Query'], Effect: 'Allow', Resource: tableArn() },
        {
          Action: 'dynamodb:Query',
          Effect: 'Allow',
          Resource: { 'Fn::Join': ['', [tableArn(), `/index/${LEDGER.statusIndex}`]] },
        },
      ]);
    }
  });

  it('lets only the HTTP API write under incoming/, where every new object starts a run', () => {
    // WHEN every function's S3 writes are read
    const writers = FUNCTIONS.filter((fn) =>
      byService(statementsOf(roleId(fn.id)), 's3')
        .filter((s) => actionsOf(s).includes('s3:PutObject'))
        .flatMap(resourcesOf)
        .some((r) => JSON.stringify(r) === JSON.stringify(objectsArn(INCOMING_PREFIX))),
    );
    // THEN the one writer is the API, whose presigned POSTs carry its rights to uploaders
    expect(writers.map((fn) => fn.id)).toEqual(['HttpApi']);
  });

  it('lets ledger writers put items, and do nothing else to the table', () => {
    for (const id of ['StartExecution', 'RecordOutcome', 'SummariseBatch']) {
      expect(byService(statementsOf(roleId(id)), 'dynamodb'), id).toEqual([
        { Action: 'dynamodb:PutItem', Effect: 'Allow', Resource: tableArn() },
      ]);
    }
  });
});

describe('notices', () => {
  it('lets exactly the notice publishers publish to the topic, and use its key for that', () => {
    // GIVEN the topic and its key as the template names them
    const topic = { Ref: logicalIdOf(template, 'AWS::SNS::Topic', 'ObservabilityTopic') };
    const key = {
      'Fn::GetAtt': [logicalIdOf(template, 'AWS::KMS::Key', 'ObservabilityTopicKey'), 'Arn'],
    };
    for (const fn of FUNCTIONS) {
      // WHEN each function's SNS and KMS statements are read
      const statements = statementsOf(roleId(fn.id));
      const publishes = (fn.access as readonly string[]).includes('notices:publish');
      // THEN a publisher may publish to the one topic and encrypt for it; no one else may
      expect(byService(statements, 'sns'), fn.id).toEqual(
        publishes ? [{ Action: 'sns:Publish', Effect: 'Allow', Resource: topic }] : [],
      );
      expect(byService(statements, 'kms'), fn.id).toEqual(
        publishes
          ? [{ Action: ['kms:GenerateDataKey', 'kms:Decrypt'], Effect: 'Allow', Resource: key }]
          : [],
      );
    }
    expect(
      FUNCTIONS.filter((fn) => (fn.access as readonly string[]).includes('notices:publish')).map(
        (fn) => fn.id,
      ),
    ).toEqual(['RecordOutcome', 'SummariseBatch', 'CheckExpectations']);
  });
});

describe('versions and the live alias', () => {
  it.each(functionCases)('%s publishes a version and points its live alias at it', (id) => {
    const functionId = logicalIdOf(template, 'AWS::Lambda::Function', `${id}Function`);
    const versionId = logicalIdOf(template, 'AWS::Lambda::Version', `${id}FunctionCurrentVersion`);
    const version = template.findResources('AWS::Lambda::Version')[versionId];
    expect(version?.Properties).toMatchObject({ FunctionName: { Ref: functionId } });
    // The version a deploy replaces is deleted, not kept forever.
    expect([version?.DeletionPolicy, version?.UpdateReplacePolicy]).toEqual(['Delete', 'Delete']);
    const alias = template.findResources('AWS::Lambda::Alias')[aliasRef(id).Ref]?.Properties;
    expect(alias).toMatchObject({
      Name: LIVE_ALIAS,
      FunctionName: { Ref: functionId },
      FunctionVersion: { 'Fn::GetAtt': [versionId, 'Version'] },
    });
  });

  it("substitutes the live aliases' ARNs for every function in both state machines", () => {
    const machines = template.findResources('AWS::StepFunctions::StateMachine');
    const substituted = Object.values(machines).flatMap((machine) =>
      Object.entries(machine.Properties.DefinitionSubstitutions as Record<string, unknown>).filter(
        ([name]) => name.endsWith('FunctionArn'),
      ),
    );
    // All but the queue's StartExecution, the scheduler's CheckExpectations and API Gateway's HttpApi.
    expect(substituted.length).toBe(FUNCTIONS.length - 3);
    for (const [name, value] of substituted) {
      expect(value, name).toEqual(aliasRef(name.replace(/FunctionArn$/, '')));
    }
  });

  it('lets the state machines invoke alias ARNs only', () => {
    for (const machine of ['ProcessFile', 'ProcessBatch']) {
      const invoked = byService(statementsOf(roleId(`${machine}StateMachine`)), 'lambda').flatMap(
        resourcesOf,
      );
      expect(invoked.length, machine).toBeGreaterThan(0);
      const aliases = Object.keys(template.findResources('AWS::Lambda::Alias'));
      for (const resource of invoked) {
        expect(aliases, JSON.stringify(resource)).toContain((resource as { Ref?: string }).Ref);
      }
    }
  });
});

describe('buckets', () => {
  it('logs the main bucket to an encrypted, private, TLS-only access-log bucket that expires', () => {
    const logsId = logicalIdOf(template, 'AWS::S3::Bucket', 'AccessLogsBucket');
    template.hasResourceProperties('AWS::S3::Bucket', {
      LoggingConfiguration: { DestinationBucketName: { Ref: logsId } },
    });
    expect(template.findResources('AWS::S3::Bucket')[logsId]?.Properties).toMatchObject({
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
      LifecycleConfiguration: { Rules: [expect.objectContaining({ ExpirationInDays: 90 })] },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logsId },
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

  it('lets Firehose write under aggregates/ and its error prefix only', () => {
    const role = logicalIdOf(template, 'AWS::IAM::Role', 'AggregatesDestinationRole');
    expect(
      template.findResources('AWS::IAM::Role')[role]?.Properties.ManagedPolicyArns,
    ).toBeUndefined();
    const writes = byService(statementsOf(role), 's3').filter((s) =>
      actionsOf(s).includes('s3:PutObject'),
    );
    expect(writes.flatMap(resourcesOf)).toEqual([
      objectsArn(AGGREGATES_PREFIX),
      objectsArn('aggregates-errors/'),
    ]);
  });
});
