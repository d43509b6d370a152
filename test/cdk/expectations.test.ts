import type { Template } from 'aws-cdk-lib/assertions';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  logicalIdOf,
  SYNTH_TIMEOUT_MS,
  statementsByPolicy,
  synthesizeStack,
  writeSchedulesFile,
} from './stack-fixture.ts';

const ORDERS = {
  name: 'orders',
  arrival: { expression: 'cron(0 6 * * ? *)', timeZone: 'Europe/London', graceMinutes: 90 },
  rows: { min: 1, max: 5000, maxChangePercent: 50 },
};

let template: Template;

beforeAll(() => {
  // GIVEN a dataset that declares when its files are due and their row counts, synthesized once
  template = synthesizeStack({
    schedulesFile: writeSchedulesFile({ datasets: [ORDERS, 'photos'], schedules: [] }),
  }).template;
}, SYNTH_TIMEOUT_MS);

const functionId = () =>
  logicalIdOf(template, 'AWS::Lambda::Function', 'CheckExpectationsFunction');
const aliasId = () => logicalIdOf(template, 'AWS::Lambda::Alias', 'CheckExpectationsLiveAlias');

describe('the expectation check', () => {
  it('gets the declared expectations, with their defaults, in its env', () => {
    const variables =
      template.findResources('AWS::Lambda::Function')[functionId()]?.Properties.Environment
        .Variables;
    expect(JSON.parse(variables.DATASET_EXPECTATIONS)).toEqual([
      { dataset: 'orders', arrival: ORDERS.arrival, rows: { ...ORDERS.rows, trailing: 7 } },
    ]);
  });

  it("runs every 15 minutes on the live alias, with the slot's time, retried and dead-lettered", () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(15 minutes)',
      Target: {
        Arn: { Ref: aliasId() },
        Input: JSON.stringify({ time: '<aws.scheduler.scheduled-time>' }),
        RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 },
        DeadLetterConfig: { Arn: Match.anyValue() },
      },
    });
  });

  it('may read and write the ledger and publish notices, and nothing else beyond its logs', () => {
    const role = logicalIdOf(template, 'AWS::IAM::Role', 'CheckExpectationsRole');
    const actions = Object.values(statementsByPolicy(template, role))
      .flat()
      .flatMap((statement) =>
        typeof statement.Action === 'string' ? [statement.Action] : statement.Action,
      )
      .filter((action) => !action.startsWith('logs:') && !action.startsWith('xray:'));
    expect([...new Set(actions)].sort()).toEqual([
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'kms:Decrypt',
      'kms:GenerateDataKey',
      'sns:Publish',
    ]);
  });
});

describe('without expectations', () => {
  it(
    'schedules no check',
    () => {
      const { template: bare } = synthesizeStack({
        schedulesFile: writeSchedulesFile({ datasets: ['orders'], schedules: [] }),
      });
      bare.resourceCountIs('AWS::Scheduler::Schedule', 0);
    },
    SYNTH_TIMEOUT_MS,
  );
});
