import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AttributeType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import {
  type CfnFunction,
  Code,
  Function as LambdaFunction,
  Runtime,
} from 'aws-cdk-lib/aws-lambda';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { FUNCTIONS } from '../../functions/registry.ts';
import { AggregatesDelivery } from '../../lib/aggregates-delivery.ts';
import { AslStateMachine, taskResources } from '../../lib/asl-state-machine.ts';
import { SluiceFunction } from '../../lib/sluice-function.ts';
import { UploadTrigger } from '../../lib/upload-trigger.ts';
import { SYNTH_TIMEOUT_MS } from './stack-fixture.ts';

/** An ASL `${name}` substitution placeholder. */
const placeholder = (name: string): string => `\${${name}}`;

const aslDir = mkdtempSync(path.join(tmpdir(), 'sluice-asl-'));

function aslFile(name: string, states: Record<string, unknown>): string {
  const file = path.join(aslDir, name);
  const [startAt] = Object.keys(states);
  writeFileSync(file, JSON.stringify({ StartAt: startAt, States: states }));
  return file;
}

function fixtures() {
  // Bundling skipped: these tests are about construct wiring, not code.
  const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Test');
  const table = new TableV2(stack, 'Table', {
    partitionKey: { name: 'pk', type: AttributeType.STRING },
  });
  const fn = new LambdaFunction(stack, 'Fn', {
    code: Code.fromInline('export const handler = async () => {}'),
    handler: 'index.handler',
    runtime: Runtime.NODEJS_24_X,
  });
  return { stack, table, fn };
}

describe('AslStateMachine', () => {
  it('finds Task resources nested in Map and Parallel states', () => {
    // GIVEN a definition with tasks inside a Map's processor and a Parallel's branch
    const definition = {
      States: {
        A: { Type: 'Task', Resource: 'r1', Next: 'B' },
        B: {
          Type: 'Map',
          ItemProcessor: { States: { C: { Type: 'Task', Resource: 'r2', End: true } } },
        },
        D: {
          Type: 'Parallel',
          Branches: [{ States: { E: { Type: 'Task', Resource: 'r1', End: true } } }],
        },
        F: { Type: 'Pass', Resource: 'not-a-task' },
      },
    };
    // WHEN resources are collected, THEN each task resource is listed once
    expect(taskResources(definition).sort()).toEqual(['r1', 'r2']);
  });

  it('rejects a placeholder that names no function', () => {
    const { stack, table, fn } = fixtures();
    const definitionFile = aslFile('unknown-fn.asl.json', {
      A: { Type: 'Task', Resource: placeholder('MissingFunctionArn'), End: true },
    });
    expect(
      () => new AslStateMachine(stack, 'Sm', { definitionFile, functions: { Present: fn }, table }),
    ).toThrow(/\$\{MissingFunctionArn\}, which matches no function \(have: Present\)/);
  });

  it('rejects a task integration it has no grant for', () => {
    const { stack, table, fn } = fixtures();
    const definitionFile = aslFile('unknown-integration.asl.json', {
      A: { Type: 'Task', Resource: 'arn:aws:states:::sqs:sendMessage', End: true },
    });
    expect(
      () => new AslStateMachine(stack, 'Sm', { definitionFile, functions: { Present: fn }, table }),
    ).toThrow("uses Resource 'arn:aws:states:::sqs:sendMessage', which has no grant here");
  });

  it('reports which functions the definition invokes', () => {
    const { stack, table, fn } = fixtures();
    const definitionFile = aslFile('one-fn.asl.json', {
      A: { Type: 'Task', Resource: placeholder('PresentFunctionArn'), End: true },
    });
    const machine = new AslStateMachine(stack, 'Sm', {
      definitionFile,
      functions: { Present: fn, Unused: fn },
      table,
    });
    expect(machine.invokedFunctionIds).toEqual(['Present']);
    expect(Object.keys(machine.substitutions)).toEqual(['PresentFunctionArn']);
  });
});

describe('input validation', () => {
  it('UploadTrigger rejects a prefix that is not a folder', () => {
    const { stack, fn } = fixtures();
    const bucket = new Bucket(stack, 'Bucket');
    expect(
      () =>
        new UploadTrigger(stack, 'Uploads', {
          bucket,
          keyPrefix: 'incoming',
          consumer: fn,
          consumerTimeout: Duration.seconds(30),
        }),
    ).toThrow("keyPrefix must end with '/', got 'incoming'");
  });

  it('UploadTrigger rejects an SQS maximum concurrency below 2', () => {
    const { stack, fn } = fixtures();
    const bucket = new Bucket(stack, 'Bucket');
    expect(
      () =>
        new UploadTrigger(stack, 'Uploads', {
          bucket,
          keyPrefix: 'incoming/',
          consumer: fn,
          consumerTimeout: Duration.seconds(30),
          maxConcurrency: 1,
        }),
    ).toThrow('maxConcurrency must be 2–1000 (an SQS event source limit), got 1');
  });

  it('AggregatesDelivery rejects an error prefix equal to the data prefix', () => {
    const { stack } = fixtures();
    const bucket = new Bucket(stack, 'Bucket');
    expect(
      () =>
        new AggregatesDelivery(stack, 'Aggregates', {
          bucket,
          prefix: 'aggregates/',
          errorPrefix: 'aggregates/',
        }),
    ).toThrow("errorPrefix must differ from prefix, both are 'aggregates/'");
  });

  it('SluiceFunction rejects a timeout Lambda cannot run', () => {
    const { stack } = fixtures();
    const definition = {
      id: 'TooSlow',
      entry: 'functions/too-slow.ts',
      description: 'x',
      memorySize: 256,
      timeoutSeconds: 901,
      concurrency: 1,
      access: [],
    };
    expect(() => new SluiceFunction(stack, 'TooSlow', { definition })).toThrow(
      'Function TooSlow: timeoutSeconds must be 1–900, got 901',
    );
  });
});

describe('SluiceFunction', () => {
  it('rejects an object prefix that is not a folder, as its grant would name other keys', () => {
    // GIVEN a definition that reads `incoming` (no slash), which `incoming*` would widen
    const { stack } = fixtures();
    const definition = {
      id: 'Wide',
      entry: 'functions/wide.ts',
      description: 'x',
      memorySize: 256,
      timeoutSeconds: 30,
      concurrency: 1,
      access: [],
      objects: { read: ['incoming'] },
    };
    // WHEN it is built, THEN it throws, naming the prefix
    expect(() => new SluiceFunction(stack, 'Wide', { definition })).toThrow(
      "Function Wide: object prefixes must be folders ending in '/', without '*', got 'incoming'",
    );
  });

  it(
    'reserves the registry concurrency only when asked to',
    () => {
      // GIVEN the start function, once with a reservation and once without
      const { stack } = fixtures();
      const definition = FUNCTIONS.find((fn) => fn.id === 'StartExecution');
      if (definition === undefined) throw new Error('registry has no StartExecution');
      const reserved = new SluiceFunction(stack, 'Reserved', {
        definition,
        reserveConcurrency: true,
      });
      const unreserved = new SluiceFunction(stack, 'Unreserved', { definition });
      // WHEN the template is read
      const functions = Template.fromStack(stack).findResources('AWS::Lambda::Function');
      const idOf = (fn: SluiceFunction) =>
        stack.getLogicalId(fn.function.node.defaultChild as CfnFunction);
      // THEN only the first carries ReservedConcurrentExecutions, equal to the registry's concurrency
      expect(functions[idOf(reserved)]?.Properties.ReservedConcurrentExecutions).toBe(
        definition.concurrency,
      );
      expect(functions[idOf(unreserved)]?.Properties).not.toHaveProperty(
        'ReservedConcurrentExecutions',
      );
    },
    SYNTH_TIMEOUT_MS,
  );
});
