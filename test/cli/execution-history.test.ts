import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { stateRuns } from '../../cli/ops/execution-history.ts';

/**
 * Histories as GetExecutionHistory returns them (through the SDK, so timestamps are Dates), one
 * second apart. AWS's own shapes cannot come from the local emulator, so they are written out
 * here from the HistoryEvent reference: Lambda tasks with a function ARN as Resource report
 * LambdaFunctionScheduled/Started/Succeeded/Failed, `lambda:invoke` and SDK integrations report
 * TaskScheduled/Started/Succeeded/Failed with the integration, not the state, as `resource`.
 */
function history(...events: ({ type: string } & Record<string, unknown>)[]): HistoryEvent[] {
  return events.map(
    (event, i) =>
      ({
        id: i + 1,
        previousEventId: i,
        timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, i)),
        ...event,
      }) as HistoryEvent,
  );
}

const entered = (type: string, name: string) => ({
  type: `${type}StateEntered`,
  stateEnteredEventDetails: { name, input: '{}' },
});
const exited = (type: string, name: string, output = '{}') => ({
  type: `${type}StateExited`,
  stateExitedEventDetails: { name, output },
});
const lambdaCause = (message: string) =>
  JSON.stringify({ errorType: 'X', errorMessage: message, trace: [] });

describe('state runs from an AWS history', () => {
  it('counts a retried Lambda attempt, and names the error of a caught SDK task', () => {
    // Prepare
    const events = history(
      { type: 'ExecutionStarted', executionStartedEventDetails: { input: '{}' } },
      entered('Task', 'PlanImage'),
      { type: 'LambdaFunctionScheduled' },
      { type: 'LambdaFunctionStarted' },
      {
        type: 'LambdaFunctionFailed',
        lambdaFunctionFailedEventDetails: { error: 'TransientError', cause: lambdaCause('slow') },
      },
      { type: 'LambdaFunctionScheduled' },
      { type: 'LambdaFunctionStarted' },
      { type: 'LambdaFunctionSucceeded' },
      exited('Task', 'PlanImage'),
      entered('Task', 'Claim'),
      { type: 'TaskScheduled' },
      { type: 'TaskStarted' },
      {
        type: 'TaskFailed',
        taskFailedEventDetails: {
          resourceType: 'dynamodb',
          resource: 'putItem',
          error: 'DynamoDB.AmazonDynamoDBException',
          cause: 'The table is gone',
        },
      },
      entered('Task', 'Quarantine'),
      { type: 'TaskScheduled' },
      { type: 'TaskStarted' },
      { type: 'TaskSucceeded' },
      exited('Task', 'Quarantine'),
      { type: 'ExecutionSucceeded' },
    );

    // Act
    const runs = stateRuns(
      events,
      { status: 'SUCCEEDED' },
      new Set(['PlanImage', 'Claim', 'Quarantine']),
    );

    // Assess
    expect(runs).toEqual([
      expect.objectContaining({
        name: 'PlanImage',
        type: 'Task',
        status: 'SUCCEEDED',
        retries: 1,
        error: null,
        durationMs: 7000,
      }),
      expect.objectContaining({
        name: 'Claim',
        status: 'CAUGHT',
        retries: 0,
        error: { name: 'DynamoDB.AmazonDynamoDBException', message: 'The table is gone' },
      }),
      expect.objectContaining({ name: 'Quarantine', status: 'SUCCEEDED', retries: 0 }),
    ]);
  });

  it('names the state that failed the execution after its retries ran out', () => {
    // Prepare
    const failure = {
      type: 'LambdaFunctionFailed',
      lambdaFunctionFailedEventDetails: {
        error: 'TransientError',
        cause: lambdaCause('throttled'),
      },
    };
    const events = history(
      { type: 'ExecutionStarted' },
      entered('Task', 'PublishAggregates'),
      { type: 'LambdaFunctionScheduled' },
      failure,
      { type: 'LambdaFunctionScheduled' },
      failure,
      { type: 'LambdaFunctionScheduled' },
      failure,
      {
        type: 'ExecutionFailed',
        executionFailedEventDetails: { error: 'TransientError', cause: lambdaCause('throttled') },
      },
    );

    // Act
    const [run] = stateRuns(events, { status: 'FAILED', stopDate: events.at(-1)?.timestamp });

    // Assess
    expect(run).toMatchObject({
      name: 'PublishAggregates',
      status: 'FAILED',
      retries: 2,
      error: { name: 'TransientError', message: 'throttled' },
      durationMs: 6000,
    });
  });

  it('counts the iterations of a Map, and shows a state still running', () => {
    // Prepare
    const events = history(
      { type: 'ExecutionStarted' },
      entered('Map', 'ResizeVariants'),
      { type: 'MapStateStarted', mapStateStartedEventDetails: { length: 2 } },
      {
        type: 'MapIterationStarted',
        mapIterationStartedEventDetails: { name: 'ResizeVariants', index: 0 },
      },
      {
        type: 'MapIterationStarted',
        mapIterationStartedEventDetails: { name: 'ResizeVariants', index: 1 },
      },
      entered('Task', 'ResizeGroup'),
      entered('Task', 'ResizeGroup'),
      exited('Task', 'ResizeGroup'),
      {
        type: 'MapIterationSucceeded',
        mapIterationSucceededEventDetails: { name: 'ResizeVariants', index: 0 },
      },
    );

    // Act
    const runs = stateRuns(events, { status: 'RUNNING' });

    // Assess
    expect(runs.map((r) => [r.name, r.status])).toEqual([
      ['ResizeVariants', 'RUNNING'],
      ['ResizeGroup', 'SUCCEEDED'],
      ['ResizeGroup', 'RUNNING'],
    ]);
    expect(runs[0]?.iterations).toEqual({ started: 2, succeeded: 1, failed: 0 });
    expect(runs[2]?.durationMs).toBeNull();
  });
});

describe('state runs from a local history', () => {
  it('tells a state caught by a Catch from one that succeeded on a retry', () => {
    // Prepare: the local runner's shapes, which are AWS's for tasks with an integration.
    const scheduled = { type: 'TaskScheduled', taskScheduledEventDetails: { resource: 'fn' } };
    const failed = (error: string) => ({
      type: 'TaskFailed',
      taskFailedEventDetails: { resource: 'fn', error, cause: lambdaCause('no') },
    });
    const events = history(
      { type: 'ExecutionStarted' },
      entered('Task', 'PlanImage'),
      scheduled,
      failed('TransientError'),
      scheduled,
      { type: 'TaskSucceeded', taskSucceededEventDetails: { resource: 'fn', output: '{}' } },
      exited('Task', 'PlanImage'),
      entered('Task', 'RecordResult'),
      scheduled,
      failed('CorruptImage'),
      exited('Task', 'RecordResult', JSON.stringify({ error: { Error: 'CorruptImage' } })),
      { type: 'ExecutionSucceeded' },
    );

    // Act
    const runs = stateRuns(events, { status: 'SUCCEEDED' });

    // Assess
    expect(runs.map((r) => [r.name, r.status, r.retries])).toEqual([
      ['PlanImage', 'SUCCEEDED', 1],
      ['RecordResult', 'CAUGHT', 0],
    ]);
    expect(runs[1]?.error).toEqual({ name: 'CorruptImage', message: 'no' });
  });

  it('reads a run resumed after a crash, and a redrive, as new runs of the state', () => {
    // Prepare: killed in Quarantine, resumed there; then failed in RecordFailure and redriven.
    const events = history(
      { type: 'ExecutionStarted' },
      entered('Task', 'Quarantine'),
      entered('Task', 'Quarantine'),
      exited('Task', 'Quarantine'),
      entered('Task', 'RecordFailure'),
      { type: 'TaskFailed', taskFailedEventDetails: { resource: 'RecordFailure', error: 'Boom' } },
      { type: 'ExecutionFailed', executionFailedEventDetails: { error: 'Boom' } },
      { type: 'ExecutionRedriven', executionRedrivenEventDetails: { redriveCount: 1 } },
      entered('Task', 'RecordFailure'),
      exited('Task', 'RecordFailure'),
      { type: 'ExecutionSucceeded' },
    );

    // Act
    const runs = stateRuns(
      events,
      { status: 'SUCCEEDED' },
      new Set(['Quarantine', 'RecordFailure']),
    );

    // Assess
    expect(runs.map((r) => [r.name, r.status])).toEqual([
      ['Quarantine', 'INTERRUPTED'],
      ['Quarantine', 'SUCCEEDED'],
      ['RecordFailure', 'FAILED'],
      ['RecordFailure', 'SUCCEEDED'],
    ]);
    expect(runs[1]?.durationMs).toBe(1000);
    expect(runs[2]?.error?.name).toBe('Boom');
  });
});
